package memlimit

import (
	"math"
	"testing"
	"time"
)

// TestWatchLifts: the limit stays while the live heap is under seven
// eighths of it, and is lifted (once) when it passes.
func TestWatchLifts(t *testing.T) {
	lives := []uint64{100, 800, 896, 897, 2000}
	i := 0
	var sets []int64
	tick := make(chan time.Time)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		watch(1024, func() uint64 { v := lives[i]; i++; return v }, func(v int64) int64 { sets = append(sets, v); return 0 }, tick, done)
		close(finished)
	}()
	for range 4 {
		tick <- time.Time{}
	}
	<-finished // lifted at the fourth reading (897 > 896): watch returns
	if i != 4 || len(sets) != 1 || sets[0] != math.MaxInt64 {
		t.Errorf("after %d readings, limits set %v", i, sets)
	}
}

// TestWatchStops: done ends the watch without touching the limit.
func TestWatchStops(t *testing.T) {
	done := make(chan struct{})
	close(done)
	watch(1024, func() uint64 { return 1 << 40 }, func(int64) int64 { t.Error("limit changed"); return 0 }, make(chan time.Time), done)
}

// TestStartRespectsGOMEMLIMIT: a limit the user set is left alone.
func TestStartRespectsGOMEMLIMIT(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "2GiB")
	Start(Default)() // no watch started; stop is a no-op
}
