package kubeutil

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes/scheme"
	typedcorev1 "github.com/wasmpod/wasmpod/internal/kube/kubernetes/typed/core/v1"
)

// Workers runs a controller's goroutines after its caches have synced:
// work-queue workers and loops beside them. Wait blocks until the
// controller's ctx ends, shuts its queues down and waits for every
// goroutine, so Run returns only once nothing of it runs.
type Workers struct {
	wg    sync.WaitGroup
	stops []func()
}

// Queue starts n workers taking keys from q through ProcessNext; Wait
// shuts q down.
func (w *Workers) Queue(ctx context.Context, n int, q workqueue.TypedRateLimitingInterface[string], sync func(context.Context, string) error) {
	w.stops = append(w.stops, q.ShutDown)
	w.Loop(n, func() bool { return ProcessNext(ctx, q, sync) })
}

// Loop starts n goroutines each calling next until it returns false (a
// controller's own processNext over a queue it passes to Wait).
func (w *Workers) Loop(n int, next func() bool) {
	for range n {
		w.Go(func() {
			for next() {
			}
		})
	}
}

// Go runs f beside the workers; f must return once the controller's ctx
// has ended.
func (w *Workers) Go(f func()) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		f()
	}()
}

// Wait blocks until ctx ends, shuts down the queues given to Queue and
// those given here, and waits for every goroutine.
func (w *Workers) Wait(ctx context.Context, queues ...workqueue.TypedInterface[string]) {
	<-ctx.Done()
	for _, stop := range w.stops {
		stop()
	}
	for _, q := range queues {
		q.ShutDown()
	}
	w.wg.Wait()
}

// EventRecorder returns a recorder of component's events, written through
// client, and its release. The controllers of one client share one event
// broadcaster (started by the first, shut down at the last release)
// instead of one each as in kube-controller-manager: a broadcaster is three
// goroutines and two 1,000-event queues (~64 KiB), so ten controllers'
// came to 0.8 MB of an idle serve's ~6 MB live heap. Each recorder keeps
// its own source component, which keys the correlator's aggregation and
// spam filter, so a controller's events are limited as before.
func EventRecorder(ctx context.Context, client kubernetes.Interface, component string) (record.EventRecorder, func()) {
	eventSinks.Lock()
	defer eventSinks.Unlock()
	s := eventSinks.m[client]
	if s == nil {
		// Not the first controller's ctx: the broadcaster outlives it
		// while other controllers record.
		bc := record.NewBroadcaster(record.WithContext(context.WithoutCancel(ctx)))
		bc.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
		s = &eventSink{bc: bc}
		if eventSinks.m == nil {
			eventSinks.m = map[kubernetes.Interface]*eventSink{}
		}
		eventSinks.m[client] = s
	}
	s.users++
	var once sync.Once
	release := func() {
		once.Do(func() {
			eventSinks.Lock()
			s.users--
			last := s.users == 0
			if last {
				delete(eventSinks.m, client)
			}
			eventSinks.Unlock()
			if last {
				s.bc.Shutdown()
			}
		})
	}
	return s.bc.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component}), release
}

// eventSinks are the shared broadcasters of EventRecorder, by client.
var eventSinks struct {
	sync.Mutex
	m map[kubernetes.Interface]*eventSink
}

type eventSink struct {
	bc    record.EventBroadcaster
	users int
}
