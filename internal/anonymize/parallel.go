package anonymize

import (
	"runtime"
	"sync"
)

// inParallel hands items to one worker per core (at most one per item).
// start makes a worker: the function it calls on each item it takes, and
// the one it calls once there are none left (the workers' done calls never
// overlap, so they may gather results without a lock of their own).
//
// Every item is queued before the workers start, so that no goroutine
// waits to hand out work: one that did would be runnable all along, and the
// scheduler would preempt a busy worker for it every 10 ms.
func inParallel[T any](items []T, start func() (each func(T), done func())) {
	next := make(chan T, len(items))
	for _, it := range items {
		next <- it
	}
	close(next)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range min(len(items), runtime.GOMAXPROCS(0)) {
		each, done := start()
		wg.Go(func() {
			for it := range next {
				each(it)
			}
			mu.Lock()
			defer mu.Unlock()
			done()
		})
	}
	wg.Wait()
}
