// Package memlimit keeps ppc's process small on ordinary inputs without
// slowing it on huge ones. Go's collector lets the heap grow to twice what
// is live before it collects (GOGC=100); in the allocation-heavy stages
// (rule evaluation, replay) the heap then runs far past the live data: at
// 5,000 workloads, 570 MB live became 1.06 GB of heap. A soft memory limit
// makes the collector work harder near the limit instead. When the live
// data itself approaches the limit, collecting harder cannot help and
// would only burn CPU, so the limit is lifted and GOGC alone paces the
// collector again, as without this package.
package memlimit

import (
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Default is ppc's soft memory limit when GOMEMLIMIT is not set.
const Default = 850 << 20

// liftNum/liftDen is the share of the limit the live heap may reach before the
// limit is lifted.
const liftNum, liftDen = 7, 8

// Start sets Go's soft memory limit to limit bytes, unless GOMEMLIMIT is
// set (the user's choice wins), and watches the live heap: when it passes
// seven eighths of the limit, the limit is lifted. stop ends the watch.
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

// watch lifts the limit (set(math.MaxInt64)) the first time live() passes
// seven eighths of it, checking at every tick until done.
func watch(limit int64, live func() uint64, set func(int64) int64, tick <-chan time.Time, done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-tick:
			if live() > uint64(limit/liftDen*liftNum) {
				set(math.MaxInt64)
				return
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
