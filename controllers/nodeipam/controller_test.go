package nodeipam

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/apitest"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/store/memory"
)

func podCIDROf(t *testing.T, cs kubernetes.Interface, name string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := cs.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && n.Spec.PodCIDR != "" {
			if len(n.Spec.PodCIDRs) != 1 || n.Spec.PodCIDRs[0] != n.Spec.PodCIDR {
				t.Errorf("node %s: podCIDR %s, podCIDRs %v", name, n.Spec.PodCIDR, n.Spec.PodCIDRs)
			}
			return n.Spec.PodCIDR
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s got no pod CIDR: %v", name, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAllocatesDistinctRanges: Nodes that register at the same moment
// without a range get distinct ones, lowest first, skipping the reserved
// ranges and those Nodes hold; a deleted Node's range is given again.
func TestAllocatesDistinctRanges(t *testing.T) {
	cs := apitest.Client(t, clock.RealClock{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "holder"},
		Spec: corev1.NodeSpec{PodCIDR: "10.244.2.0/24", PodCIDRs: []string{"10.244.2.0/24"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c, err := New(cs, "10.244.0.0/16", 24, []string{"10.244.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	go c.Run(ctx)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("agent-%d", i)}}, metav1.CreateOptions{}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got := map[string]string{}
	for i := range 6 {
		name := fmt.Sprintf("agent-%d", i)
		r := podCIDROf(t, cs, name)
		if other, dup := got[r]; dup {
			t.Errorf("%s and %s both got %s", name, other, r)
		}
		got[r] = name
	}
	for _, want := range []string{"10.244.1.0/24", "10.244.3.0/24", "10.244.4.0/24", "10.244.5.0/24", "10.244.6.0/24", "10.244.7.0/24"} {
		if got[want] == "" {
			t.Errorf("ranges %v: want the six lowest free ones (not the reserved .0 or the held .2), %s missing", got, want)
		}
	}
	if r := podCIDROf(t, cs, "holder"); r != "10.244.2.0/24" {
		t.Errorf("holder's range changed to %s", r)
	}
	// A deleted Node's range is free again: the next Node gets it.
	freed := podCIDROf(t, cs, "agent-0")
	if err := cs.CoreV1().Nodes().Delete(ctx, "agent-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the deletion reaches the controller first
	if _, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "late"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := podCIDROf(t, cs, "late"); r != freed && r != "10.244.8.0/24" {
		t.Errorf("late got %s, want the freed %s (or, had the deletion not arrived, the next one)", r, freed)
	}
}

// TestNoRangeLeft: with every range taken, a Node gets none and a
// CIDRNotAvailable Event, never a range another Node holds.
func TestNoRangeLeft(t *testing.T) {
	cs := apitest.Client(t, clock.RealClock{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := New(cs, "10.244.0.0/23", 24, []string{"10.244.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	go c.Run(ctx)
	for _, n := range []string{"first", "second"} {
		if _, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if n == "first" {
			if r := podCIDROf(t, cs, "first"); r != "10.244.1.0/24" {
				t.Fatalf("first got %s", r)
			}
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		l, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=second,reason=CIDRNotAvailable"})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no CIDRNotAvailable event for second")
		}
		time.Sleep(20 * time.Millisecond)
	}
	n, err := cs.CoreV1().Nodes().Get(ctx, "second", metav1.GetOptions{})
	if err != nil || n.Spec.PodCIDR != "" {
		t.Errorf("second: %v, podCIDR %q, want none", err, n.Spec.PodCIDR)
	}
	if _, err := New(cs, "10.244.0.0/33", 24, nil); err == nil {
		t.Error("an invalid cluster CIDR was accepted")
	}
}

// TestPatchesInParallel: the patches that record the ranges of Nodes
// registering at once are in flight together (upstream's 30
// cidrUpdateWorkers), not one store commit after another: the API server
// holds every Node PATCH until 8 are in flight at once, and the 8 Nodes
// still get distinct ranges. Serial patches never reach the 8.
func TestPatchesInParallel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := memory.New()
	defer st.Close()
	s, err := apiserver.New(ctx, st, apiserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const want = 8
	var mu sync.Mutex
	inFlight, most := 0, 0
	all := make(chan struct{})
	h := s.Handler(apiserver.HandlerOptions{})
	gate := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, "/api/v1/nodes/") {
			mu.Lock()
			inFlight++
			most = max(most, inFlight)
			if inFlight == want {
				close(all)
			}
			mu.Unlock()
			select {
			case <-all:
			case <-time.After(20 * time.Second): // fails below
			}
			defer func() { mu.Lock(); inFlight--; mu.Unlock() }()
		}
		h.ServeHTTP(w, r)
	})
	cs, err := kubernetes.NewForConfig(s.InProcessConfig(gate))
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(cs, "10.244.0.0/16", 24, nil)
	if err != nil {
		t.Fatal(err)
	}
	go c.Run(ctx)
	for i := range want {
		if _, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("n-%d", i)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]string{}
	for i := range want {
		name := fmt.Sprintf("n-%d", i)
		r := podCIDROf(t, cs, name)
		if other, dup := got[r]; dup {
			t.Errorf("%s and %s both got %s", name, other, r)
		}
		got[r] = name
	}
	mu.Lock()
	defer mu.Unlock()
	if most < want {
		t.Errorf("at most %d Node patches in flight at once, want %d", most, want)
	}
}
