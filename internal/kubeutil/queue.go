package kubeutil

import (
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
