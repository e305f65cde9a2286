package pods

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func TestNodePodCIDRs(t *testing.T) {
	for _, tc := range []struct {
		cluster string
		mask    int
		nodes   int
		want    string
	}{
		{"10.244.0.0/16", 0, 3, "10.244.0.0/16 [10.244.0.0/24 10.244.1.0/24 10.244.2.0/24]"},
		{"10.244.0.0/16", 22, 3, "10.244.0.0/16 [10.244.0.0/22 10.244.4.0/22 10.244.8.0/22]"},
		{"10.244.3.7/16", 18, 4, "10.244.0.0/16 [10.244.0.0/18 10.244.64.0/18 10.244.128.0/18 10.244.192.0/18]"},
		{"10.244.0.0/29", 29, 1, "10.244.0.0/29 [10.244.0.0/29]"},
		{"fd00:10:244::/56", 0, 2, "fd00:10:244::/56 [fd00:10:244::/64 fd00:10:244:1::/64]"},
		{"fd00:10:244::/48", 120, 2, "fd00:10:244::/48 [fd00:10:244::/120 fd00:10:244::100/120]"},
	} {
		cluster, got, err := NodePodCIDRs(tc.cluster, tc.mask, tc.nodes)
		if s := fmt.Sprint(cluster, " ", got); err != nil || s != tc.want {
			t.Errorf("NodePodCIDRs(%s, %d, %d) = %s, %v; want %s", tc.cluster, tc.mask, tc.nodes, s, err, tc.want)
		}
	}
	if got := PodAddresses(24, 32); got != 253 {
		t.Errorf("a /24 holds %d pods", got)
	}
	if got := PodAddresses(18, 32); got != 16381 {
		t.Errorf("a /18 holds %d pods", got)
	}
}

// TestIPAMWakesLongestWaiter: each released address wakes the pod that
// found the range full first; a wake its pod did not spend passes on.
func TestIPAMWakesLongestWaiter(t *testing.T) {
	m, err := newIPAM("10.244.1.0/29") // five addresses: .2 to .6
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := m.allocate(types.UID(fmt.Sprint("run-", i)), ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range []types.UID{"w1", "w2", "w3"} {
		_, err := m.allocate(w, "")
		var nae *noAddressError
		if err == nil || !strings.Contains(err.Error(), `failed to setup network for sandbox "`+sandboxID(w)+`": failed to allocate for range 0: no IP addresses available in range set: 10.244.1.1-10.244.1.6`) {
			t.Fatalf("allocate %s: %v (%T)", w, err, nae)
		}
	}
	woken := func(w types.UID) bool {
		select {
		case <-m.wait(w):
			return true
		default:
			return false
		}
	}
	if woken("w1") || woken("w2") || woken("w3") || m.wait("run-0") != nil {
		t.Fatal("woken before any release")
	}
	m.release("run-0")
	if !woken("w1") || woken("w2") || woken("w3") {
		t.Fatal("the first release did not wake w1 alone")
	}
	// w1 ends without taking the address: its wake goes to w2.
	m.release("w1")
	if !woken("w2") || woken("w3") {
		t.Fatal("w1's unspent wake did not pass to w2")
	}
	ip, err := m.allocate("w2", "")
	if err != nil || netip.MustParseAddr(ip) != netip.MustParseAddr("10.244.1.2") {
		t.Fatalf("w2: %q %v", ip, err)
	}
	if m.wait("w2") != nil {
		t.Error("w2 still waits after taking an address")
	}
	m.release("run-1")
	if !woken("w3") {
		t.Fatal("w3 not woken")
	}
	if len(m.queue) != 0 {
		t.Errorf("queue %v", m.queue)
	}
}
