// Package memlimit keeps ppc's process small on ordinary inputs without
// slowing it on huge ones. Go's collector lets the heap grow to twice what
// is live before it collects (GOGC=100); in the allocation-heavy stages
// (rule evaluation, replay) the heap then runs far past the live data: at
// 5,000 workloads, 570 MB live became 1.06 GB of heap. A soft memory limit
// makes the collector work harder near the limit instead. When the live
// data itself approaches the limit, collecting harder cannot help and
// would only burn CPU, so the limit is raised to half again what is live:
// the heap stays within 1.5 times the live data (GOGC alone would let it
// reach twice), and the collector never runs without end.
package memlimit

import (
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Default is ppc's soft memory limit when GOMEMLIMIT is not set.
const Default = 600 << 20

// liftNum/liftDen is the share of the limit the live heap may reach before the
// limit is raised; raiseNum/raiseDen what the limit is raised to, as a
// multiple of the live heap.
const (
	liftNum, liftDen   = 7, 8
	raiseNum, raiseDen = 3, 2
)

// Start sets Go's soft memory limit to limit bytes, unless GOMEMLIMIT is
// set (the user's choice wins), and watches the live heap: whenever it
// passes seven eighths of the limit, the limit is raised to 1.5 times it.
// stop ends the watch.
func Start(limit int64) (stop func()) {
	if os.Getenv("GOMEMLIMIT") != "" || limit <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	t := time.NewTicker(100 * time.Millisecond)
	debug.SetMemoryLimit(limit)
	go func() {
		defer t.Stop()
		watch(limit, liveHeap, debug.SetMemoryLimit, t.C, done)
	}()
	return func() { close(done) }
}

// watch raises the limit to 1.5 times live() whenever live() passes seven
// eighths of it, checking at every tick until done.
func watch(limit int64, live func() uint64, set func(int64) int64, tick <-chan time.Time, done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-tick:
			if l := live(); l > uint64(limit/liftDen*liftNum) {
				limit = int64(min(l, math.MaxInt64/raiseNum)) * raiseNum / raiseDen
				set(limit)
			}
		}
	}
}

// liveHeap is the heap the last collection found live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
