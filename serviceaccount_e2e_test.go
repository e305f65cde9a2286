package wasmpod_test

// ServiceAccount tokens end to end (issue 12 §3): a cluster with a root CA
// (what serve gives it) mounts upstream's kube-api-access volume into a
// real pod; the guest (testguests/configprobe) reads the token, ca.crt and
// namespace from /var/run/secrets/kubernetes.io/serviceaccount, read-only.
// The token is then used as the pod would use it, from the host: a guest
// cannot reach the API server today (the kubernetes Service's endpoint is
// the API server's host address, and the pod network's service proxy
// delivers VIP connections to pod endpoints only; egress to the host's
// other addresses is real, but this test cannot count on one the network
// routes). With the real kubectl and that token over HTTPS, verified by
// the mounted ca.crt: the pod's service account is the user, listing pods
// is 403 until a RoleBinding, then 200; deleting the pod ends the token.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/testkubectl"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// testServingPKI makes a CA and a serving certificate for 127.0.0.1 it
// signs, as serve's.
func testServingPKI(t testing.TB) (caPEM []byte, cert tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "wasmpod-apiserver"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"kubernetes.default.svc"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// kubeconfigWith writes a kubeconfig for server trusting caPEM with token.
func kubeconfigWith(t *testing.T, server string, caPEM []byte, token string) string {
	t.Helper()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := "apiVersion: v1\nkind: Config\nclusters:\n- name: w\n  cluster:\n    server: " + server +
		"\n    certificate-authority-data: " + base64.StdEncoding.EncodeToString(caPEM) +
		"\ncontexts:\n- name: w\n  context:\n    cluster: w\n    user: me\n    namespace: default\ncurrent-context: w\nusers:\n- name: me\n  user:\n    token: " + token + "\n"
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return kc
}

func kubectlWith(t *testing.T, kc, stdin string, args ...string) (string, string, int) {
	t.Helper()
	home := filepath.Dir(kc)
	cmd := exec.Command(testkubectl.Path(t), append([]string{"--kubeconfig", kc, "--cache-dir", filepath.Join(home, "cache")}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+home, "KUBECONFIG="+kc)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func TestServiceAccountTokenInPod(t *testing.T) {
	t.Parallel()
	wasm := moduleFile(t, "configprobe.wasm", testwasm.Build(t, testwasm.GuestDir(t, "configprobe")))
	caPEM, cert := testServingPKI(t)
	c, err := wasmpod.New(t.Context(), wasmpod.Config{CacheDir: t.TempDir(), RootCA: caPEM})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	const admin = "admin-token-e2e-0123456789"
	srv := httptest.NewUnstartedServer(c.Server().Handler(apiserver.HandlerOptions{Token: admin}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	c.SetAPIServerAddress(netip.MustParseAddrPort(u.Host))
	adminKC := kubeconfigWith(t, srv.URL, caPEM, admin)

	const dir = "/var/run/secrets/kubernetes.io/serviceaccount"
	manifest := `apiVersion: v1
kind: Pod
metadata:
  name: sa-probe
spec:
  restartPolicy: Never
  containers:
  - name: probe
    image: ` + wasm + `
    args: ["ls:` + dir + `", "cat:` + dir + `/token", "cat:` + dir + `/ca.crt", "cat:` + dir + `/namespace", "write:` + dir + `/x", "sleep"]
`
	if out, errOut, code := kubectlWith(t, adminKC, manifest, "apply", "-f", "-"); code != 0 {
		t.Fatalf("apply: %s%s", out, errOut)
	}
	var logs string
	waitFor(t, "the probe's output", 60*time.Second, func() bool {
		logs = podLogsIfAny(c, "sa-probe", "probe")
		return strings.Contains(logs, dir+"/x write=")
	})
	vals := map[string]string{}
	for _, l := range strings.Split(logs, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && strings.HasPrefix(k, dir) {
			if uq, err := strconv.Unquote(v); err == nil {
				v = uq
			}
			vals[k] = v
		}
	}
	if got := vals[dir+" ls"]; !strings.Contains(logs, dir+" ls=ca.crt,namespace,token") {
		t.Errorf("volume listing %q; logs:\n%s", got, logs)
	}
	if vals[dir+"/ca.crt"] != string(caPEM) || vals[dir+"/namespace"] != "default" || !strings.Contains(logs, dir+"/x write=error") {
		t.Errorf("ca.crt/namespace/read-only: logs:\n%s", logs)
	}
	tok := vals[dir+"/token"]
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q; logs:\n%s", tok, logs)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Sub string `json:"sub"`
		K   struct {
			Pod       struct{ Name string } `json:"pod"`
			Node      struct{ Name string } `json:"node"`
			WarnAfter int64                 `json:"warnafter"`
		} `json:"kubernetes.io"`
		Exp, Iat int64
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if claims.Sub != "system:serviceaccount:default:default" || claims.K.Pod.Name != "sa-probe" || claims.K.Node.Name != "node-1" ||
		claims.Exp-claims.Iat != 365*24*3600 || claims.K.WarnAfter != claims.Iat+3607 {
		t.Errorf("claims %s", payload)
	}

	// The token, from the host, with the real kubectl.
	saKC := kubeconfigWith(t, srv.URL, []byte(vals[dir+"/ca.crt"]), tok)
	out, errOut, code := kubectlWith(t, saKC, "", "auth", "whoami")
	if code != 0 || !strings.Contains(out, "system:serviceaccount:default:default") || !strings.Contains(out, "authentication.kubernetes.io/pod-name") || !strings.Contains(out, "[sa-probe]") {
		t.Errorf("auth whoami: exit %d\n%s%s", code, out, errOut)
	}
	_, errOut, code = kubectlWith(t, saKC, "", "get", "pods")
	if code != 1 || !strings.Contains(errOut, `pods is forbidden: User "system:serviceaccount:default:default" cannot list resource "pods" in API group "" in the namespace "default"`) {
		t.Errorf("get pods before the RoleBinding: exit %d %s", code, errOut)
	}
	if out, errOut, code := kubectlWith(t, adminKC, "", "create", "rolebinding", "sa-view", "--clusterrole=view", "--serviceaccount=default:default"); code != 0 {
		t.Fatalf("rolebinding: %s%s", out, errOut)
	}
	out, errOut, code = kubectlWith(t, saKC, "", "get", "pods", "--no-headers")
	if code != 0 || !strings.HasPrefix(out, "sa-probe ") || !strings.Contains(out, "Running") {
		t.Errorf("get pods after the RoleBinding: exit %d\n%s%s", code, out, errOut)
	}
	// The pod's volume, as kubectl shows it.
	vols, _, _ := kubectlWith(t, adminKC, "", "get", "pod", "sa-probe", "-o", "jsonpath={.spec.serviceAccountName} {.spec.volumes[0].name} {.spec.containers[0].volumeMounts[0].mountPath}")
	if f := strings.Fields(vols); len(f) != 3 || f[0] != "default" || !strings.HasPrefix(f[1], "kube-api-access-") || f[2] != dir {
		t.Errorf("pod spec: %q", vols)
	}

	// Deleting the pod ends its token.
	if out, errOut, code := kubectlWith(t, adminKC, "", "delete", "pod", "sa-probe", "--grace-period=1"); code != 0 {
		t.Fatalf("delete: %s%s", out, errOut)
	}
	_, errOut, code = kubectlWith(t, saKC, "", "get", "pods")
	if code != 1 || !strings.Contains(errOut, "error: You must be logged in to the server (Unauthorized)") {
		t.Errorf("after the pod's deletion: exit %d %s", code, errOut)
	}
}

// podLogsIfAny is the container's log, or "" while it has none.
func podLogsIfAny(c *wasmpod.Cluster, name, ctr string) string {
	var b strings.Builder
	if err := c.Logs(context.Background(), "default", name, &corev1.PodLogOptions{Container: ctr}, &b); err != nil {
		return ""
	}
	return b.String()
}

// TestServiceAccountKeyInDataDir: a cluster over a lasting store (serve's)
// keeps its signing key in <data-dir>/pki/sa.key (0600), so a token made
// before a restart is still accepted after it; a memory cluster's tokens
// are not accepted by another cluster.
func TestServiceAccountKeyInDataDir(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dataDir := filepath.Join(t.TempDir(), "data")
	cache := t.TempDir()
	open := func() *wasmpod.Cluster {
		c, err := wasmpod.New(ctx, wasmpod.Config{CacheDir: cache, DataDir: dataDir, Store: wasmpod.StoreBbolt})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	review := func(c *wasmpod.Cluster, tok string) authenticationv1.TokenReviewStatus {
		t.Helper()
		r, err := c.Client().AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: tok}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return r.Status
	}
	token := func(c *wasmpod.Cluster) string {
		t.Helper()
		var tr *authenticationv1.TokenRequest
		waitFor(t, "the default ServiceAccount", 30*time.Second, func() bool {
			var err error
			tr, err = c.Client().CoreV1().ServiceAccounts("default").CreateToken(ctx, "default", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
			return err == nil
		})
		return tr.Status.Token
	}
	c := open()
	tok := token(c)
	if st := review(c, tok); !st.Authenticated || st.User.Username != "system:serviceaccount:default:default" {
		t.Fatalf("review before the restart: %+v", st)
	}
	c.Close()
	if fi, err := os.Stat(filepath.Join(dataDir, "pki", "sa.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("sa.key: %v %v", fi, err)
	}
	c = open()
	defer c.Close()
	if st := review(c, tok); !st.Authenticated || st.User.Username != "system:serviceaccount:default:default" {
		t.Errorf("review after the restart: %+v", st)
	}
	m, err := wasmpod.New(ctx, wasmpod.Config{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if st := review(m, token(m)); !st.Authenticated {
		t.Errorf("memory cluster's own token: %+v", st)
	}
	if st := review(m, tok); st.Authenticated {
		t.Errorf("another cluster's token accepted: %+v", st)
	}
}
