package memlimit

import (
	"math"
	"reflect"
	"runtime"
	"runtime/metrics"
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

// gcPercent and memLimit read the collector's settings without setting
// them (the watch may set them meanwhile).
func gcPercent() int { return int(readMetric("/gc/gogc:percent")) }

func memLimit() int64 { return int64(readMetric("/gc/gomemlimit:bytes")) }

func readMetric(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestStartPacesByLimit: while the limit follows the live heap, GOGC's
// trigger is off; stop puts GOGC and the limit back.
func TestStartPacesByLimit(t *testing.T) {
	t.Setenv("GOGC", "")
	was, wasLimit := gcPercent(), memLimit()
	stop := Start(Floor, 1<<50) // a ceiling the watch never lifts
	if p, l := gcPercent(), memLimit(); p != -1 || l != Floor {
		t.Errorf("after Start: GOGC %d, limit %d; want off (-1) and %d", p, l, Floor)
	}
	stop()
	if p, l := gcPercent(), memLimit(); p != was || l != wasLimit {
		t.Errorf("after stop: GOGC %d, limit %d; want %d and %d", p, l, was, wasLimit)
	}
}

// TestStartLiftRestoresGOGC: when the live heap passes four fifths of the
// ceiling, the limit is lifted and GOGC paces the collector again.
func TestStartLiftRestoresGOGC(t *testing.T) {
	t.Setenv("GOGC", "")
	was := gcPercent()
	stop := Start(1, 1) // any live heap is past four fifths of 1 byte
	defer stop()
	deadline := time.Now().Add(10 * time.Second)
	for gcPercent() == -1 || memLimit() != math.MaxInt64 {
		if time.Now().After(deadline) {
			t.Fatalf("not lifted after 10 s: GOGC %d, limit %d", gcPercent(), memLimit())
		}
		runtime.GC() // a live heap to read
		time.Sleep(20 * time.Millisecond)
	}
	if p := gcPercent(); p != was {
		t.Errorf("after the lift: GOGC %d, want %d", p, was)
	}
}

// TestStartRespectsGOGC: a GOGC the user set keeps pacing the collector.
func TestStartRespectsGOGC(t *testing.T) {
	t.Setenv("GOGC", "150")
	was := gcPercent()
	stop := Start(Floor, 1<<50)
	defer stop()
	if p := gcPercent(); p != was {
		t.Errorf("GOGC %d after Start, want %d (the user's)", p, was)
	}
}
