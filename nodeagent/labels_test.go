package nodeagent

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
)

// TestAgentRefusesNonKubeletLabels: as the kubelet's --node-labels, labels
// in the kubernetes.io and k8s.io namespaces that a kubelet may not set on
// its own Node (NodeRestriction would refuse the registration) are an
// error naming them, before the agent dials anything; the kubelet's own
// labels and other namespaces pass.
func TestAgentRefusesNonKubeletLabels(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	o := Options{API: &rest.Config{Host: "https://127.0.0.1:1"}, NodeName: "n", DataDir: t.TempDir(),
		NodeIP: netip.MustParseAddr("127.0.0.1"), KubeletListener: l,
		Labels: map[string]string{"node-role.kubernetes.io/worker": "", "node-restriction.kubernetes.io/pool": "a",
			"kubernetes.io/arch": "wasm32-wasi", "node.kubernetes.io/instance-type": "edge", "example.com/zone": "b"}}
	err = Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "--node-labels: unknown 'kubernetes.io' or 'k8s.io' labels node-restriction.kubernetes.io/pool, node-role.kubernetes.io/worker:") {
		t.Errorf("Run with labels %v: %v", o.Labels, err)
	}
	if err := checkNodeLabels(map[string]string{"kubernetes.io/arch": "wasm32-wasi", "node.kubernetes.io/instance-type": "edge",
		"kubelet.kubernetes.io/x": "y", "topology.kubernetes.io/zone": "z", "example.com/zone": "b"}); err != nil {
		t.Errorf("kubelet labels refused: %v", err)
	}
}
