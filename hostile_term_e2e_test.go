package wasmpod_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/wasmpod/wasmpod"
	"github.com/wasmpod/wasmpod/apiserver"
)

// TestHostileBusyLoopDuringTerm: guests that spin without a host call and
// ignore TERM, twice as many as the machine has cores, are deleted with a
// grace period. Throughout, the API served over loopback HTTP answers
// within 1 s and the garbage collector's stop-the-world completes (a
// spinning guest that could not be preempted would stall both); at the
// deadline every guest is killed (137) and its pod is gone.
func TestHostileBusyLoopDuringTerm(t *testing.T) {
	ctx := context.Background()
	wasm := hostileWasm(t)
	c, err := wasmpod.New(ctx, wasmpod.Config{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := apiserver.NewHTTPServer(c.Handler(), apiserver.ServingOptions{})
	go srv.Serve(ln)
	defer srv.Close()
	api := "http://" + ln.Addr().String() + "/api/v1/namespaces/default/pods"

	n := 2 * goruntime.NumCPU()
	w, err := c.Watch(ctx, "pods", "default", metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for i := 0; i < n; i++ {
		applyYAML(t, c, wasm, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: spin-%d}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 2
  containers:
  - name: spin
    image: WASM
    args: ["spin"]
`, i))
	}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("spin-%d", i)
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		_, err := c.WaitPod(wctx, "default", name, func(p *corev1.Pod) bool {
			st := p.Status.ContainerStatuses
			return len(st) == 1 && st[0].State.Running != nil
		})
		cancel()
		if err != nil {
			t.Fatalf("%s never ran: %v", name, err)
		}
	}
	// Give the guests time to reach their loop.
	for i := 0; i < n; i++ {
		var b strings.Builder
		deadline := time.Now().Add(time.Minute)
		for !strings.Contains(b.String(), "spin: ready") {
			b.Reset()
			if err := c.Logs(ctx, "default", fmt.Sprintf("spin-%d", i), &corev1.PodLogOptions{}, &b); err != nil {
				t.Fatal(err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("spin-%d never printed ready: %q", i, b.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for i := 0; i < n; i++ {
		if err := c.Delete(ctx, "pods", "default", fmt.Sprintf("spin-%d", i), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// While the guests spin through their grace period and are killed:
	// the API answers within 1 s, and a GC completes.
	client := &http.Client{Timeout: 1 * time.Second}
	killed := map[string]int32{}
	gone := map[string]bool{}
	deadline := time.Now().Add(2 * time.Minute)
	var slowest time.Duration
	for len(gone) < n {
		start := time.Now()
		resp, err := client.Get(api)
		if err != nil {
			t.Fatalf("the API did not answer within 1 s while guests spun: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET pods: %s", resp.Status)
		}
		slowest = max(slowest, time.Since(start))
		gcDone := make(chan struct{})
		go func() { goruntime.GC(); close(gcDone) }()
		select {
		case <-gcDone:
		case <-time.After(30 * time.Second): // a hang guard
			t.Fatal("a GC did not complete while guests spun")
		}
	drain:
		for {
			select {
			case ev := <-w.ResultChan():
				p, ok := ev.Object.(*corev1.Pod)
				if !ok {
					continue
				}
				if ev.Type == watch.Deleted {
					gone[p.Name] = true
				}
				for _, st := range p.Status.ContainerStatuses {
					if st.State.Terminated != nil {
						killed[p.Name] = st.State.Terminated.ExitCode
					}
				}
			default:
				break drain
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the spinning pods were not all gone: %d of %d", len(gone), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("spin-%d", i)
		if code, ok := killed[name]; !ok || code != 137 {
			t.Errorf("%s: exit code %d (seen %v), want 137 (killed at its deadline)", name, code, ok)
		}
	}
	t.Logf("%d spinning guests; slowest API answer %v", n, slowest)
}
