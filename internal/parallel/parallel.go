// Package parallel owns ppc's one way of spreading independent work over
// the cores: For runs f(0) … f(n-1) on GOMAXPROCS goroutines, each index
// once (ForErr for work that can fail). Callers write results into slots of their own by index, so what
// they produce is in input order, as deterministic as a loop.
package parallel

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
)

// For calls f(i) for every i in [0, n) on up to GOMAXPROCS goroutines and
// returns when all calls have returned. Once ctx is done no further call
// starts (the calls already running finish). A panic in f
// is re-raised in the caller once the other goroutines have stopped.
func For(ctx context.Context, n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			if ctx.Err() != nil {
				return
			}
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var panicked any
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					once.Do(func() { panicked = r })
					next.Store(int64(n)) // the others stop at their next index
				}
			}()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
	if panicked != nil {
		panic(panicked)
	}
}

// ForErr is For for calls that can fail: the first error cancels the
// context the calls are given (no further call starts) and is returned.
// It returns nil when every call returned nil, and ctx's error when ctx
// ended first.
func ForErr(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var once sync.Once
	var first error
	For(ctx, n, func(i int) {
		if err := f(ctx, i); err != nil {
			once.Do(func() {
				first = err
				cancel()
			})
		}
	})
	if first != nil {
		return first
	}
	return ctx.Err()
}
