package main

// Issue 15 §1, joining as kubeadm does: `wasmpod token create
// --print-join-command` on the control plane prints the command a node
// runs; the agent pins the cluster CA, gets its own node credential and
// runs pods; a wrong token or CA hash is refused with a clear error;
// `token list` and `token delete` manage the token, and a deleted token
// joins no one. Two joined agents with --tunnel-port reach each other's
// pods by pod IP.

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/wasmpod/wasmpod/bootstrap"
)

const joinPods = `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  nodeSelector: {kubernetes.io/hostname: joined-2}
  tolerations: [{key: kubernetes.io/arch, operator: Equal, value: wasm32-wasi}]
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "echo hello from a joined node; mkdir -p /www; echo served across nodes > /www/index.html; httpd -f -p 8080 -h /www"]
---
apiVersion: v1
kind: Pod
metadata:
  name: client
spec:
  nodeSelector: {kubernetes.io/hostname: joined-1}
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "while true; do sleep 1; done"]
`

func TestAgentJoinWithToken(t *testing.T) {
	t.Parallel()
	dir, addr := t.TempDir(), freeAddr(t)
	s := serveControlPlane(t, dir, addr)
	kc := filepath.Join(dir, "kubeconfig")
	env := cleanEnv(t, kc)

	out, errOut, code := runClient(t, env, binPath, "token", "create", "--print-join-command", "--description", "e2e join", "--ttl", "1h")
	if code != 0 || !strings.Contains(errOut, "note: https://"+addr+" is a loopback address, which other machines do not reach") {
		t.Errorf("token create --print-join-command: exit %d, stderr %q; want a note on the loopback address", code, errOut)
	}
	m := regexp.MustCompile(`^wasmpod agent --join (https://\S+) --token ([a-z0-9]{6})\.([a-z0-9]{16}) --discovery-token-ca-cert-hash (sha256:[0-9a-f]{64})\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("token create --print-join-command printed %q", out)
	}
	if m[1] != "https://"+addr {
		t.Errorf("the join command names %s, want https://%s", m[1], addr)
	}
	id, tok, hash := m[2], m[2]+"."+m[3], m[4]
	ca, err := os.ReadFile(filepath.Join(dir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := bootstrap.CACertHash(ca); hash != want {
		t.Errorf("the printed CA hash %s is not serve's CA's %s", hash, want)
	}
	joinCmd := strings.Fields(out)[1:]
	agentArgs := func(name, data string, extra ...string) []string {
		return append([]string{"--node-name", name, "--data-dir", data, "--cache-dir", cacheDir, "--kubelet-port", "0",
			"--address", "127.0.0.1", "--heartbeat-interval", "1s"}, extra...)
	}

	// Refusals: a token the cluster does not know, the right ID with a
	// wrong secret, a CA hash that is not the cluster's.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--token", "zzzzzz.0123456789abcdef", "--discovery-token-ca-cert-hash", hash}, `--token: the cluster at https://` + addr + ` does not know token ID "zzzzzz"`},
		{[]string{"--token", id + ".0123456789abcdef", "--discovery-token-ca-cert-hash", hash}, `--token: cluster-info's signature for token ID "` + id + `" does not match the token's secret`},
		{[]string{"--token", tok, "--discovery-token-ca-cert-hash", "sha256:" + strings.Repeat("0", 64)}, "--discovery-token-ca-cert-hash: the cluster CA's hash is " + hash + ", which matches none of"},
	} {
		data := filepath.Join(t.TempDir(), "bad")
		bad := start(t, "", append(append([]string{"agent", "--join", "https://" + addr}, tc.args...), agentArgs("bad", data)...)...)
		if code := bad.wait(time.Minute); code != 1 || !strings.Contains(bad.stderr.String(), "wasmpod agent: joining https://"+addr+": "+tc.want) {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant 1 and %q", tc.args, code, bad.stderr, tc.want)
		}
		if _, err := os.Stat(filepath.Join(data, "kubeconfig")); err == nil {
			t.Errorf("%v: a refused join left a credential", tc.args)
		}
	}

	// The printed command joins two nodes, with the pod network tunnel;
	// joined-1 serves its kubelet API with a certificate of its own, which
	// the cluster CA signed (serve verifies kubelets' certificates against
	// it).
	certPEM, keyPEM := clusterSignedServingCert(t, dir, "joined-1", net.ParseIP("127.0.0.1"))
	certFile, keyFile := filepath.Join(t.TempDir(), "kubelet.crt"), filepath.Join(t.TempDir(), "kubelet.key")
	if os.WriteFile(certFile, certPEM, 0o600) != nil || os.WriteFile(keyFile, keyPEM, 0o600) != nil {
		t.Fatal("writing the kubelet certificate")
	}
	data1 := filepath.Join(t.TempDir(), "joined-1")
	a1 := start(t, "", append(joinCmd, agentArgs("joined-1", data1, "--tunnel-port", "0", "--tls-cert-file", certFile, "--tls-private-key-file", keyFile)...)...)
	a2 := start(t, "", append(joinCmd, agentArgs("joined-2", filepath.Join(t.TempDir(), "joined-2"), "--tunnel-port", "0", "--wasm-arch")...)...)
	for _, a := range []*proc{a1, a2} {
		a.waitFor(`kubelet API on https://`, time.Minute)
	}
	// Each has its own node credential: a 0600 kubeconfig whose user is a
	// client certificate system:node:<name> in system:nodes, no token, kept
	// in <data-dir>/pki/kubelet-client-current.pem (0600), which the
	// kubeconfig names, as the kubelet's bootstrap writes it.
	cred := filepath.Join(data1, "kubeconfig")
	if st, err := os.Stat(cred); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the joined agent's credential %s: %v %v", cred, st, err)
	}
	kcfg, err := clientcmd.LoadFromFile(cred)
	if err != nil {
		t.Fatal(err)
	}
	pair := filepath.Join(data1, "pki", "kubelet-client-current.pem")
	for name, ai := range kcfg.AuthInfos {
		if ai.ClientCertificate != pair || ai.ClientKey != pair || len(ai.ClientCertificateData) > 0 {
			t.Fatalf("credential user %s: client-certificate %q, client-key %q, want %s for both", name, ai.ClientCertificate, ai.ClientKey, pair)
		}
		b, err := os.ReadFile(pair)
		if st, serr := os.Stat(pair); err != nil || serr != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v %v", pair, st, err, serr)
		}
		blk, _ := pem.Decode(b)
		if blk == nil || ai.Token != "" {
			t.Fatalf("credential user %s: no client certificate, or a token", name)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil || c.Subject.CommonName != "system:node:joined-1" || strings.Join(c.Subject.Organization, ",") != "system:nodes" {
			t.Errorf("the node certificate's subject: %v %v", c.Subject, err)
		}
	}
	if out := newKubectlUser(t, cred).must(t, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); out != "system:node:joined-1" {
		t.Errorf("kubectl auth whoami with the joined credential: %q", out)
	}
	for _, name := range []string{"joined-1", "joined-2"} {
		n := waitNode(t, s.client, name, "Ready", func(n *corev1.Node) bool {
			return nodeReady(n) == corev1.ConditionTrue && n.Annotations["wasmpod.io/tunnel-port"] != ""
		})
		if name == "joined-2" && (n.Labels["kubernetes.io/arch"] != "wasm32-wasi" || len(n.Spec.Taints) < 2) {
			t.Errorf("--wasm-arch node: labels %v, taints %v", n.Labels, n.Spec.Taints)
		}
		if name == "joined-1" {
			conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", n.Status.DaemonEndpoints.KubeletEndpoint.Port), &tls.Config{InsecureSkipVerify: true})
			if err != nil {
				t.Fatalf("the kubelet API of joined-1: %v", err)
			}
			leaf := conn.ConnectionState().PeerCertificates[0]
			conn.Close()
			if blk, _ := pem.Decode(certPEM); !bytes.Equal(leaf.Raw, blk.Bytes) {
				t.Errorf("joined-1's kubelet API serves %v, not its --tls-cert-file", leaf.Subject)
			}
		}
	}

	// Pods run on them; logs and exec reach them; a pod on joined-1 reaches
	// one on joined-2 by pod IP through the tunnel.
	k := newKubectlUser(t, kc)
	if out, errOut, code := runClientStdin(t, k, joinPods, "apply", "-f", "-"); code != 0 {
		t.Fatalf("kubectl apply: exit %d\n%s%s", code, out, errOut)
	}
	web := s.waitPod(t, "web", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" })
	s.waitPod(t, "client", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	if web.Spec.NodeName != "joined-2" {
		t.Errorf("pod web on %s", web.Spec.NodeName)
	}
	var got string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !strings.HasPrefix(got, "hello from a joined node\n"); time.Sleep(200 * time.Millisecond) {
		got, _, _ = k.run(t, "logs", "web")
	}
	if !strings.HasPrefix(got, "hello from a joined node\n") {
		t.Errorf("kubectl logs web: %q", got)
	}
	var wget, wgetErr string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && wget != "served across nodes\n"; time.Sleep(300 * time.Millisecond) {
		wget, wgetErr, _ = k.run(t, "exec", "client", "--", "wget", "-q", "-O", "-", "http://"+web.Status.PodIP+":8080/")
	}
	if wget != "served across nodes\n" {
		t.Errorf("from joined-1, wget the pod on joined-2 at %s: %q %q\nagent joined-1:\n%s", web.Status.PodIP, wget, wgetErr, a1.stderr)
	}

	// token list shows the token; token delete removes it, and it joins
	// no one after that.
	list := mustClient(t, env, binPath, "token", "list")
	if !regexp.MustCompile(`(?m)^TOKEN\s+TTL\s+EXPIRES\s+USAGES\s+DESCRIPTION\s+EXTRA GROUPS\n` + id + `\s+(59m|1h)\s+\S+Z\s+authentication,signing\s+e2e join\s+` +
		regexp.QuoteMeta(bootstrap.ExtraGroup) + `$`).MatchString(list) {
		t.Errorf("token list:\n%s", list)
	}
	// Beside serve, over its socket: the kubeconfig serve recorded gives
	// the HTTPS address and CA.
	home := t.TempDir()
	sockEnv := []string{"HOME=" + home, "XDG_RUNTIME_DIR=" + os.Getenv("XDG_RUNTIME_DIR"), "PATH=" + os.Getenv("PATH")}
	if out := mustClient(t, sockEnv, binPath, "token", "list", "--server", "unix://"+s.socket); !strings.Contains(out, id+" ") {
		t.Errorf("token list over serve's socket:\n%s", out)
	}
	if out := mustClient(t, env, binPath, "token", "delete", tok); out != `bootstrap token "`+id+`" deleted`+"\n" {
		t.Errorf("token delete: %q", out)
	}
	if out := mustClient(t, env, binPath, "token", "list"); strings.Contains(out, id) {
		t.Errorf("token list after the delete:\n%s", out)
	}
	if _, errOut, code := runClient(t, env, binPath, "token", "delete", id); code != 1 || !strings.Contains(errOut, `token "`+id+`": no such bootstrap token`) {
		t.Errorf("token delete of a deleted token: exit %d, %q", code, errOut)
	}
	late := start(t, "", append(joinCmd, agentArgs("joined-3", filepath.Join(t.TempDir(), "joined-3"))...)...)
	if code := late.wait(time.Minute); code != 1 || !strings.Contains(late.stderr.String(), `does not know token ID "`+id+`"`) {
		t.Errorf("a join with the deleted token: exit %d\n%s", code, late.stderr)
	}

	// A joined agent restarts on its credential, without the token.
	a1.interrupt(0)
	a1 = start(t, "", append([]string{"agent", "--join", "https://" + addr}, agentArgs("joined-1", data1)...)...)
	a1.waitFor(`node joined-1: using its credential in `, time.Minute)
	a1.waitFor(`node joined-1: kubelet API on https://`, time.Minute)
	code = -1
	var restartOut, restartErr string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if restartOut, restartErr, code = k.run(t, "exec", "client", "--", "echo", "after the restart"); code == 0 {
			break // its pods start again, as after a reboot
		}
	}
	if restartOut != "after the restart\n" || code != 0 {
		t.Errorf("exec after the joined agent's restart: exit %d, %q %q", code, restartOut, restartErr)
	}
}

// TestAgentJoinWaitsForServe: an agent joining while the API server is
// down waits for it, saying so, and joins once it is back.
func TestAgentJoinWaitsForServe(t *testing.T) {
	t.Parallel()
	dir, addr := t.TempDir(), freeAddr(t)
	s := serveControlPlane(t, dir, addr)
	join := strings.Fields(mustClient(t, cleanEnv(t, filepath.Join(dir, "kubeconfig")), binPath, "token", "create", "--print-join-command"))
	s.interrupt(0)
	a := start(t, "", append(join[1:], "--node-name", "patient", "--data-dir", filepath.Join(t.TempDir(), "patient"), "--cache-dir", cacheDir,
		"--kubelet-port", "0", "--address", "127.0.0.1", "--heartbeat-interval", "1s")...)
	a.waitFor(`(?s)wasmpod agent: waiting for the API server https://`+regexp.QuoteMeta(addr)+` to join: .*connection refused.*waiting for the API server`, time.Minute)
	s = serveControlPlane(t, dir, addr)
	a.waitFor(`node patient: kubelet API on https://`, time.Minute)
	waitNode(t, s.client, "patient", "Ready", func(n *corev1.Node) bool { return nodeReady(n) == corev1.ConditionTrue })
}
