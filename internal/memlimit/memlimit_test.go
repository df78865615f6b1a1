package memlimit

import (
	"math"
	"reflect"
	"testing"
	"time"
)

func TestLimit(t *testing.T) {
	const floor, ceiling = 400, 800
	for _, c := range []struct {
		live uint64
		want int64
	}{
		{0, floor},
		{199, floor},
		{201, 402},
		{399, 798},
		{401, ceiling},
		{640, ceiling},       // four fifths of the ceiling: 1.25 times the live heap
		{641, math.MaxInt64}, // past it: lifted
	} {
		if got := Limit(c.live, floor, ceiling); got != c.want {
			t.Errorf("Limit(%d) = %d, want %d", c.live, got, c.want)
		}
	}
}

// TestWatchFollowsThenLifts: the limit follows the live heap, is set only
// when it changes, and once lifted the watch ends.
func TestWatchFollowsThenLifts(t *testing.T) {
	lives := []uint64{100, 100, 300, 456, 700, 100, 820, 2000}
	// 400 (floor, unchanged), 400, 600, 912, 1024 (the ceiling: 700 is
	// under four fifths of it), 400, lifted.
	i := 0
	var sets []int64
	tick := make(chan time.Time)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		watch(400, 1024, func() uint64 { v := lives[i]; i++; return v }, func(v int64) int64 { sets = append(sets, v); return 0 }, tick, done)
		close(finished)
	}()
	for range 7 {
		select {
		case tick <- time.Time{}:
		case <-finished: // lifted early: the comparison below says so
		}
	}
	<-finished // lifted at the seventh reading (820 > 819): watch returns
	if want := []int64{600, 912, 1024, 400, math.MaxInt64}; i != 7 || !reflect.DeepEqual(sets, want) {
		t.Errorf("after %d readings, limits set %v, want %v", i, sets, want)
	}
}

// TestWatchStops: done ends the watch without touching the limit.
func TestWatchStops(t *testing.T) {
	done := make(chan struct{})
	close(done)
	watch(400, 1024, func() uint64 { return 1 << 40 }, func(int64) int64 { t.Error("limit changed"); return 0 }, make(chan time.Time), done)
}

// TestStartRespectsGOMEMLIMIT: a limit the user set is left alone.
func TestStartRespectsGOMEMLIMIT(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "2GiB")
	Start(Floor, Ceiling)() // no watch started; stop is a no-op
}
