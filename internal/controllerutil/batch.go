package controllerutil

import "sync"

// SlowStartInitialBatchSize is the first batch of SlowStartBatch as the
// workload controllers call it (upstream's SlowStartInitialBatchSize).
const SlowStartInitialBatchSize = 1

// SlowStartBatch calls fn count times in batches of initial, 2*initial,
// 4*initial, … each batch in parallel; after a batch with a failure it
// stops and returns the successes so far and one of the errors
// (upstream's slowStartBatch), so a quota or a forbidden template costs a
// call or two, not count.
func SlowStartBatch(count, initial int, fn func() error) (int, error) {
	remaining, successes := count, 0
	for batch := min(remaining, initial); batch > 0; batch = min(2*batch, remaining) {
		errs := make(chan error, batch)
		var wg sync.WaitGroup
		for range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := fn(); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		successes += batch - len(errs)
		if len(errs) > 0 {
			return successes, <-errs
		}
		remaining -= batch
	}
	return successes, nil
}
