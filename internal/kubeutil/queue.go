package kubeutil

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
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
// failures. A panic in sync is a failure too, logged with its stack:
// controllers run inside serve beside every pod, so one bad object must not
// take the process down (kube-controller-manager's HandleCrash crashes and
// lets the kubelet restart it). It returns false once q is shut down.
func ProcessNext(ctx context.Context, q workqueue.TypedRateLimitingInterface[string], sync func(context.Context, string) error) bool {
	key, quit := q.Get()
	if quit {
		return false
	}
	defer q.Done(key)
	if err := SyncRecovering(ctx, key, sync); err != nil && ctx.Err() == nil {
		q.AddRateLimited(key)
		return true
	}
	q.Forget(key)
	return true
}

// SyncRecovering runs sync, turning a panic into an error logged with its
// stack; for controllers whose work loop is not ProcessNext.
func SyncRecovering(ctx context.Context, key string, sync func(context.Context, string) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic syncing %q: %v", key, r)
			utilruntime.HandleError(fmt.Errorf("%w\n%s", err, debug.Stack()))
		}
	}()
	return sync(ctx, key)
}
