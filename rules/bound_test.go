package rules

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// sink keeps an allocation from being optimised away.
var sink []byte

// TestMemoryBoundLeavesGarbageOut: with the collector paced by a soft
// limit above the bound (as internal/memlimit paces ppc's), garbage piles
// up past the bound before a collection; it must not count. What is kept
// past the bound must.
func TestMemoryBoundLeavesGarbageOut(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // collections only when forced
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(1 << 40))
	const bound = 64 << 20
	ctx, over, stop := memoryBound(context.Background(), bound)
	defer stop()
	for i := 0; i < 256; i++ { // 256 MiB of garbage, over ~50 of the watch's ticks
		sink = make([]byte, 1<<20)
		time.Sleep(4 * time.Millisecond)
	}
	if over() || ctx.Err() != nil {
		t.Fatalf("garbage counted against the bound")
	}
	var kept [][]byte
	for i := 0; i < 2*bound>>20; i++ {
		kept = append(kept, make([]byte, 1<<20))
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
	}
	runtime.KeepAlive(kept)
	if !over() {
		t.Errorf("%d MiB kept, bound %d MiB: not over", len(kept), bound>>20)
	}
	sink = nil
}
