package memlimit

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// TestWatchRaises: the limit stays while the live heap is under seven
// eighths of it, and is raised to 1.5 times the live heap each time it
// passes.
func TestWatchRaises(t *testing.T) {
	lives := []uint64{100, 800, 896, 897, 1000, 1176, 1400, math.MaxUint64}
	i := 0
	var sets []int64
	tick := make(chan time.Time)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		watch(1024, func() uint64 { v := lives[i]; i++; return v }, func(v int64) int64 { sets = append(sets, v); return 0 }, tick, done)
		close(finished)
	}()
	for range lives {
		tick <- time.Time{}
	}
	close(done)
	<-finished
	// 897 > 896 (7/8 of 1024): 1345; 1176 is not over 7/8 of 1345, 1400 is:
	// 2100; a live heap past any limit raises it without overflow.
	want := []int64{1345, 2100, math.MaxInt64 / 3 * 3 / 2}
	if fmt.Sprint(sets) != fmt.Sprint(want) {
		t.Errorf("limits set %v, want %v", sets, want)
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
