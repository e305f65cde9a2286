package nodeagent

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The routes an agent learns from the Nodes: every other Node with a
// tunnel port, an InternalIP and a pod range; a Node missing one of them
// (or with a port that does not parse, which is logged) is no route.
func TestTunnelPeersFromNodes(t *testing.T) {
	node := func(name, port, ip string, cidrs ...string) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{}}}
		if port != "" {
			n.Annotations[TunnelPortAnnotation] = port
		}
		if ip != "" {
			n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: ip}}
		}
		if len(cidrs) > 0 {
			n.Spec.PodCIDR, n.Spec.PodCIDRs = cidrs[0], cidrs
		}
		return n
	}
	var logged []string
	logf := func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }
	got := tunnelPeers([]*corev1.Node{
		node("self", "7000", "10.0.0.1", "10.244.0.0/24"),
		node("b", "7001", "10.0.0.2", "10.244.1.0/24", "fd00:1::/64"),
		node("a", "7002", "10.0.0.3", "10.244.2.0/24"),
		node("no-port", "", "10.0.0.4", "10.244.3.0/24"),
		node("bad-port", "70000", "10.0.0.5", "10.244.4.0/24"),
		node("no-ip", "7003", "", "10.244.5.0/24"),
		node("no-cidr", "7004", "10.0.0.6"),
	}, "self", logf)
	want := "a 10.0.0.3:7002 [10.244.2.0/24]; b 10.0.0.2:7001 [10.244.1.0/24 fd00:1::/64]"
	var parts []string
	for _, p := range got {
		parts = append(parts, fmt.Sprintf("%s %s %v", p.Node, p.Addr, p.PodCIDRs))
	}
	if s := strings.Join(parts, "; "); s != want {
		t.Errorf("peers: %s\nwant %s", s, want)
	}
	if len(logged) != 1 || !strings.Contains(logged[0], `bad-port`) || !strings.Contains(logged[0], `"70000" is not a port`) {
		t.Errorf("logged %q", logged)
	}
}
