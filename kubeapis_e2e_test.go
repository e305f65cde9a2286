package wasmpod

import (
	"bytes"
	"context"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wasmpod/wasmpod/internal/testkubectl"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// TestClusterKubernetesAPIs: a Cluster starts the controllers kubectl
// users expect: a default ServiceAccount per namespace, and the
// kubernetes Service whose endpoints follow SetAPIServerAddress.
func TestClusterKubernetesAPIs(t *testing.T) {
	ctx := context.Background()
	c, err := New(ctx, Config{CacheDir: filepath.Join(t.TempDir(), "cache")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cs := c.Client()
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: never happened", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for _, ns := range []string{"default", "kube-system"} {
		wait("default ServiceAccount in "+ns, func() bool {
			_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
			return err == nil
		})
	}
	wait("the kubernetes Service", func() bool {
		s, err := cs.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		return err == nil && s.Spec.ClusterIP == "10.96.0.1" && s.Spec.Ports[0].Port == 443
	})
	c.SetAPIServerAddress(netip.MustParseAddrPort("127.0.0.1:6443"))
	wait("the kubernetes EndpointSlice", func() bool {
		sl, err := cs.DiscoveryV1().EndpointSlices("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		return err == nil && len(sl.Endpoints) == 1 && sl.Endpoints[0].Addresses[0] == "127.0.0.1" && *sl.Ports[0].Port == 6443
	})
	// A namespace with its default ServiceAccount is deleted as a whole:
	// the account the namespace controller deletes is not made again.
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wait("default ServiceAccount in team", func() bool {
		_, err := cs.CoreV1().ServiceAccounts("team").Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	})
	if err := cs.CoreV1().Namespaces().Delete(ctx, "team", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	wait("namespace team gone", func() bool {
		_, err := cs.CoreV1().Namespaces().Get(ctx, "team", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
}

// TestClusterKubectlDrainAndAPIs: real kubectl against a Cluster's API:
// whoami, can-i, the default ServiceAccount, the kubernetes Service at
// the API's address, and drain evicting a running wasm pod gracefully.
func TestClusterKubectlDrainAndAPIs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	wasm := filepath.Join(dir, "probe.wasm")
	if err := os.WriteFile(wasm, testwasm.Build(t, testwasm.GuestDir(t, "probe")), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := New(ctx, Config{CacheDir: filepath.Join(dir, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	c.SetAPIServerAddress(netip.MustParseAddrPort(u.Host))

	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: w\n  cluster:\n    server: "+srv.URL+
		"\ncontexts:\n- name: w\n  context:\n    cluster: w\n    user: me\n    namespace: default\ncurrent-context: w\nusers:\n- name: me\n  user: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(testkubectl.Path(t), append([]string{"--kubeconfig", kc, "--cache-dir", filepath.Join(dir, "kcache")}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir, "KUBECONFIG="+kc)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		return out.String()
	}
	cs := c.Client()
	grace := int64(2)
	if _, err := cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sleeper"},
		Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{Name: "main", Image: wasm, Args: []string{"sleep"}}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitPod(ctx, "default", "sleeper", PodRunning); err != nil {
		t.Fatal(err)
	}

	if got := kubectl("auth", "whoami"); !strings.Contains(got, "Username    admin") {
		t.Errorf("kubectl auth whoami:\n%s", got)
	}
	if got := kubectl("auth", "can-i", "create", "pods"); got != "yes\n" {
		t.Errorf("kubectl auth can-i create pods: %q", got)
	}
	if got := kubectl("get", "--raw", "/readyz?verbose"); got != "[+]ping ok\n[+]store ok\nreadyz check passed\n" {
		t.Errorf("kubectl get --raw /readyz?verbose: %q", got)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := kubectl("get", "serviceaccounts", "-o", "name")
		if got == "serviceaccount/default\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kubectl get serviceaccounts -o name: %q", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for {
		got := kubectl("get", "endpoints", "kubernetes", "-o", "jsonpath={.subsets[0].addresses[0].ip}:{.subsets[0].ports[0].port}")
		if got == u.Host {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kubernetes endpoints: %q, want %s", got, u.Host)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := kubectl("get", "svc", "kubernetes", "--no-headers"); !strings.HasPrefix(got, "kubernetes   ClusterIP   10.96.0.1   <none>   443/TCP   ") {
		t.Errorf("kubectl get svc kubernetes: %q", got)
	}

	got := kubectl("drain", "node-1", "--force")
	for _, want := range []string{"node/node-1 cordoned", "evicting pod default/sleeper", "pod/sleeper evicted", "node/node-1 drained"} {
		if !strings.Contains(got, want) {
			t.Errorf("kubectl drain output lacks %q:\n%s", want, got)
		}
	}
	if _, err := cs.CoreV1().Pods("default").Get(ctx, "sleeper", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after drain, the pod: %v", err)
	}
}
