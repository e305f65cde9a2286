package kubeutil

import (
	"context"

	"time"

	"k8s.io/client-go/util/workqueue"
)

// NewQueue is a controller's work queue of keys: per-key exponential
// back-off from 5 ms to 10 s on failures, named for the workqueue's
// metrics and logs.
func NewQueue(name string) workqueue.TypedRateLimitingInterface[string] {
	return workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, 10*time.Second),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: name})
}

// ProcessNext takes one key from q and syncs it: a failure is retried
// with q's back-off (unless ctx has ended), a success forgets the key's
// failures. It returns false once q is shut down.
func ProcessNext(ctx context.Context, q workqueue.TypedRateLimitingInterface[string], sync func(context.Context, string) error) bool {
	key, quit := q.Get()
	if quit {
		return false
	}
	defer q.Done(key)
	if err := sync(ctx, key); err != nil && ctx.Err() == nil {
		q.AddRateLimited(key)
		return true
	}
	q.Forget(key)
	return true
}
