package rules

import (
	"context"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// DefaultMemoryLimit bounds the heap while rule packs evaluate: a pack
// that builds a huge set (a comprehension over every address of a /8)
// is stopped with an error instead of taking the process down.
const DefaultMemoryLimit = 4 << 30

// memoryBound cancels the returned context when the process's heap
// grows past limit bytes while it runs; exceeded reports whether it did.
// stop ends the watch.
func memoryBound(ctx context.Context, limit uint64) (bounded context.Context, exceeded func() bool, stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var over atomic.Bool
	done := make(chan struct{})
	go func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				metrics.Read(sample)
				if sample[0].Value.Kind() == metrics.KindUint64 && sample[0].Value.Uint64() > limit {
					over.Store(true)
					cancel()
					return
				}
			}
		}
	}()
	return ctx, over.Load, func() { close(done); cancel() }
}
