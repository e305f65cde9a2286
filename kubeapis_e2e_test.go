package wasmpod

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
}
