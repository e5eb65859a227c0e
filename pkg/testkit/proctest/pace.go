package proctest

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Pace calls do from workers goroutines at about rate calls per second
// (0: as fast as they can) until d has passed or ctx is done, and returns
// the number of calls and the achieved rate. do gets the call's index.
func Pace(ctx context.Context, rate float64, workers int, d time.Duration, do func(i int64)) (int64, float64) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var tickets chan struct{}
	if rate > 0 {
		tickets = make(chan struct{}, workers)
		go func() {
			interval := time.Duration(float64(time.Second) / rate)
			start := time.Now()
			var issued int64
			tick := time.NewTicker(max(interval, time.Millisecond))
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				// Catch up after a late tick, so the rate holds on average.
				due := int64(time.Since(start) / interval)
				for ; issued < due; issued++ {
					select {
					case tickets <- struct{}{}:
					case <-ctx.Done():
						return
					default: // workers saturated: the call is skipped
					}
				}
			}
		}()
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				if tickets != nil {
					select {
					case <-tickets:
					case <-ctx.Done():
						return
					}
				}
				do(n.Add(1) - 1)
			}
		})
	}
	wg.Wait()
	calls := n.Load()
	return calls, float64(calls) / time.Since(start).Seconds()
}
