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

// EventRecorder starts an event broadcaster that writes component's
// events through client, as kube-controller-manager's controllers do, and
// returns its recorder and the broadcaster's Shutdown.
func EventRecorder(ctx context.Context, client kubernetes.Interface, component string) (record.EventRecorder, func()) {
	bc := record.NewBroadcaster(record.WithContext(ctx))
	bc.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	return bc.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component}), bc.Shutdown
}
