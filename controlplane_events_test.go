package wasmpod

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	typedcorev1 "github.com/wasmpod/wasmpod/internal/kube/kubernetes/typed/core/v1"
	"github.com/wasmpod/wasmpod/store/memory"
)

// kubectlEventTime is the key kubectl describe sorts events by
// (k8s.io/kubectl/pkg/util/event: Series.LastObservedTime, else
// LastTimestamp, else EventTime); its sort keeps the server's list order
// (by name) among equal keys.
func kubectlEventTime(e corev1.Event) time.Time {
	if e.Series != nil {
		return e.Series.LastObservedTime.Time
	}
	if !e.LastTimestamp.IsZero() {
		return e.LastTimestamp.Time
	}
	return e.EventTime.Time
}

// TestScheduledEventSortsFirst: the scheduler's Scheduled event sorts
// before the node agent's first event (Pulling) under kubectl describe's
// sort, even when the agent reacts to the binding before Bind has
// returned to the scheduler (the race that showed Pulling first: the
// Scheduled event was stamped after Bind returned).
func TestScheduledEventSortsFirst(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := apiserver.New(ctx, memory.New(), apiserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The binding's response is held until the "agent" below has
	// recorded its event: the worst case of the race, made certain.
	agentDone := make(chan struct{})
	inner := s.Handler(apiserver.HandlerOptions{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(w, r)
		if strings.HasSuffix(r.URL.Path, "/binding") {
			select {
			case <-agentDone:
			case <-time.After(30 * time.Second):
			}
		}
	}))
	defer ts.Close()
	client, err := kubernetes.NewForConfig(apiserver.TCPConfig(ts.URL, ""))
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "a.wasm"}}}}
	if pod, err = client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The agent: sees the pod bound, records Pulling through client-go's
	// recorder as the node agent does.
	w, err := client.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=p"})
	if err != nil {
		t.Fatal(err)
	}
	bc := record.NewBroadcaster(record.WithContext(ctx))
	bc.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	defer bc.Shutdown()
	agentRec := bc.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: "node-1"})
	go func() {
		defer close(agentDone)
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok && p.Spec.NodeName != "" {
				agentRec.Event(p, corev1.EventTypeNormal, "Pulling", `Pulling image "a.wasm"`)
				// Recorded (stamped) now; wait until it is stored.
				for ctx.Err() == nil {
					l, _ := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
					if l != nil && len(l.Items) > 0 {
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
				return
			}
		}
	}()

	b := &schedulerBinder{client: client, recorder: agentRec}
	if err := b.Bind(ctx, pod, "node-1"); err != nil {
		t.Fatal(err)
	}
	w.Stop()
	l, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	evs := l.Items
	sort.SliceStable(evs, func(i, j int) bool { return kubectlEventTime(evs[i]).Before(kubectlEventTime(evs[j])) })
	var got []string
	for _, e := range evs {
		got = append(got, fmt.Sprintf("%s@%s(%s)", e.Reason, kubectlEventTime(e).Format(time.RFC3339), e.Name))
	}
	if len(evs) != 2 || evs[0].Reason != "Scheduled" || evs[1].Reason != "Pulling" {
		t.Fatalf("events in kubectl describe's order: %v; want Scheduled, then Pulling", got)
	}
}
