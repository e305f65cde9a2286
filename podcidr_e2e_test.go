package wasmpod_test

// A node's pod range sized by configuration (clusterCIDR and
// nodeCIDRMaskSize, as kube-controller-manager's flags), and pods past it:
// as upstream with a CNI bridge and host-local, a pod that gets no IP stays
// Pending with its container Waiting in ContainerCreating and a
// FailedCreatePodSandBox Warning event, never runs, and starts once an
// address is freed.

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/testwasm"
)

// idleCPod is a pod of the C probe waiting for TERM on stdin: idle until
// deleted.
func idleCPod(name, wasm string) *corev1.Pod {
	grace := int64(5)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &grace,
			Containers:                    []corev1.Container{{Name: "idle", Image: wasm, Args: []string{"waitterm"}}},
		},
	}
}

func TestPodCIDRExhaustedPodsWait(t *testing.T) {
	wasm := cProbeWasm(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a hang guard
	defer cancel()
	c, err := wasmpod.New(ctx, wasmpod.Config{CacheDir: testwasm.CacheDir(), NodeCIDRMaskSize: 29,
		EvictionHard: map[string]string{"nodefs.available": "1Mi"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}

	// The node's range is the cluster CIDR's first /29: five pod
	// addresses (.0 is the network, .1 the node, .7 broadcast); its pods
	// capacity stays the default 110.
	node, err := cs.CoreV1().Nodes().Get(ctx, "node-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if node.Spec.PodCIDR != "10.244.0.0/29" || len(node.Spec.PodCIDRs) != 1 || node.Spec.PodCIDRs[0] != "10.244.0.0/29" {
		t.Fatalf("node podCIDR %q podCIDRs %v, want 10.244.0.0/29", node.Spec.PodCIDR, node.Spec.PodCIDRs)
	}
	if n := node.Status.Capacity.Pods().Value(); n != 110 {
		t.Errorf("node pods capacity %d, want 110", n)
	}

	// Everything the pods go through, from the start: a pod that waits for
	// an address must never be seen Running, Ready or with an IP.
	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var mu sync.Mutex
	latest := map[string]*corev1.Pod{}
	ran := map[string]bool{} // seen Running, Ready or with an IP
	changed := make(chan struct{}, 1)
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			mu.Lock()
			if ev.Type == watch.Deleted {
				delete(latest, p.Name)
			} else {
				latest[p.Name] = p
				if p.Status.Phase == corev1.PodRunning || (podReady(p) == corev1.ConditionTrue) || p.Status.PodIP != "" {
					ran[p.Name] = true
				}
			}
			mu.Unlock()
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	}()
	waitFor := func(what string, cond func() (bool, string)) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for {
			mu.Lock()
			ok, detail := cond()
			mu.Unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s", what, detail)
			}
			select {
			case <-changed:
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	describe := func() string {
		var sb strings.Builder
		for name, p := range latest {
			fmt.Fprintf(&sb, "\n%s %s ip=%q ready=%v", name, p.Status.Phase, p.Status.PodIP, (podReady(p) == corev1.ConditionTrue))
			for _, s := range p.Status.ContainerStatuses {
				fmt.Fprintf(&sb, " %+v", s.State)
			}
		}
		return sb.String()
	}

	const pods, addresses = 8, 5
	for i := range pods {
		if _, err := cs.CoreV1().Pods("default").Create(ctx, idleCPod(fmt.Sprintf("idle-%d", i), wasm), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var running, waiting []string
	waitFor("five pods Ready, three waiting in ContainerCreating", func() (bool, string) {
		running, waiting = nil, nil
		for name, p := range latest {
			switch {
			case p.Status.Phase == corev1.PodRunning && (podReady(p) == corev1.ConditionTrue):
				running = append(running, name)
			case p.Status.Phase == corev1.PodPending && len(p.Status.ContainerStatuses) == 1 &&
				p.Status.ContainerStatuses[0].State.Waiting != nil && p.Status.ContainerStatuses[0].State.Waiting.Reason == "ContainerCreating":
				waiting = append(waiting, name)
			}
		}
		return len(running) == addresses && len(waiting) == pods-addresses, describe()
	})
	mu.Lock()
	ips := map[string]bool{}
	podRange := netip.MustParsePrefix("10.244.0.0/29")
	for _, name := range running {
		ip, err := netip.ParseAddr(latest[name].Status.PodIP)
		if err != nil || !podRange.Contains(ip) || ip == netip.MustParseAddr("10.244.0.1") || ip == netip.MustParseAddr("10.244.0.7") || ips[ip.String()] {
			t.Errorf("pod %s: podIP %q", name, latest[name].Status.PodIP)
		}
		ips[ip.String()] = true
	}
	mu.Unlock()

	// Each waiting pod has upstream's Warning event.
	for _, name := range waiting {
		waitFor("the FailedCreatePodSandBox event of "+name, func() (bool, string) {
			evs, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("involvedObject.name", name).String()})
			if err != nil {
				return false, err.Error()
			}
			var got []string
			for _, e := range evs.Items {
				got = append(got, e.Type+" "+e.Reason+": "+e.Message)
				if e.Type == corev1.EventTypeWarning && e.Reason == "FailedCreatePodSandBox" && e.Source.Component == "kubelet" &&
					strings.HasPrefix(e.Message, `Failed to create pod sandbox: failed to setup network for sandbox "`) &&
					strings.HasSuffix(e.Message, `": failed to allocate for range 0: no IP addresses available in range set: 10.244.0.1-10.244.0.6`) {
					return true, ""
				}
			}
			return false, strings.Join(got, "\n")
		})
	}
	// A while later they still wait: the range stays full.
	time.Sleep(time.Second)
	mu.Lock()
	for _, name := range waiting {
		if ran[name] {
			t.Errorf("pod %s ran without an address: %s", name, describe())
		}
	}
	mu.Unlock()

	// Deleting three running pods frees three addresses: the waiting pods
	// start, each with one of them.
	for _, name := range running[:pods-addresses] {
		if err := cs.CoreV1().Pods("default").Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor("the waiting pods Running and Ready", func() (bool, string) {
		for _, name := range waiting {
			p := latest[name]
			if p == nil || p.Status.Phase != corev1.PodRunning || !(podReady(p) == corev1.ConditionTrue) || p.Status.PodIP == "" {
				return false, describe()
			}
		}
		return len(latest) == addresses, describe()
	})
	mu.Lock()
	defer mu.Unlock()
	seen := map[string]string{}
	for name, p := range latest {
		ip, err := netip.ParseAddr(p.Status.PodIP)
		if err != nil || !podRange.Contains(ip) || seen[p.Status.PodIP] != "" {
			t.Errorf("pod %s: podIP %q (also %q)", name, p.Status.PodIP, seen[p.Status.PodIP])
		}
		seen[p.Status.PodIP] = name
	}
}

// TestPodCIDRConfigErrors: bad pod network settings are refused at start,
// with errors naming the setting and its flag.
func TestPodCIDRConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  wasmpod.Config
		want string
	}{
		{wasmpod.Config{ClusterCIDR: "10.244.0.0/33"}, `clusterCIDR (--cluster-cidr) "10.244.0.0/33": invalid CIDR address`},
		{wasmpod.Config{ClusterCIDR: "10.244.0.0/16", NodeCIDRMaskSize: 8}, "clusterCIDR (--cluster-cidr) 10.244.0.0/16: mask size of cluster CIDR must be less than or equal to nodeCIDRMaskSize (--node-cidr-mask-size) 8"},
		{wasmpod.Config{NodeCIDRMaskSize: 31}, "nodeCIDRMaskSize (--node-cidr-mask-size) 31: a /31 pod range has no address for a pod (at most 30)"},
		{wasmpod.Config{NodeCIDRMaskSize: 33}, "nodeCIDRMaskSize (--node-cidr-mask-size) 33: must be between"},
		{wasmpod.Config{ClusterCIDR: "10.244.0.0/24", NodeCIDRMaskSize: 25, Nodes: 3}, "clusterCIDR (--cluster-cidr) 10.244.0.0/24 holds 2 pod ranges of /25 (nodeCIDRMaskSize), too few for 3 nodes"},
		{wasmpod.Config{MaxPods: -1}, "invalid configuration: maxPods (--max-pods) -1 must not be a negative number"},
	} {
		c, err := wasmpod.New(context.Background(), tc.cfg)
		if err == nil {
			c.Close()
			t.Errorf("%+v: no error", tc.cfg)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %q, want %q", err, tc.want)
		}
	}
}
