// Package memlimit paces ppc's garbage collector by memory, so that the
// process stays small on huge inputs and does not collect needlessly on
// ordinary ones. Go's collector, left alone (GOGC=100), collects whenever
// the heap reaches twice what the last collection found live. With little
// live, that is a collection every few MB allocated: a third of the CPU of
// rule evaluation on a 10k-edge graph. With much live, in the
// allocation-heavy stages (rule evaluation, replay) the heap runs far past
// the live data: at 5,000 workloads, 570 MB live became 1.06 GB of heap.
//
// So a soft memory limit paces the collector instead: GOGC's trigger is
// off (unless the user set GOGC) and the limit follows the live heap,
// twice it, never below Floor nor above Ceiling. While less than half of
// Floor is live, the heap may grow to Floor before a collection: a
// 300k-flow compile (about 210 MB live at its peak) then runs a fifth
// faster, its decide and verify a third, at about 430 MB of memory instead
// of 270. Above that, the collector runs about where GOGC=100 would, at
// twice the live heap (a little sooner: the limit counts all of Go's
// memory, GOGC's goal the heap alone), and harder as the limit nears
// Ceiling. When the live data
// itself approaches Ceiling, collecting harder cannot help and would only
// burn CPU, so the limit is lifted and GOGC (as it was) paces the
// collector again, as without this package. It is lifted once the live
// heap passes four fifths of Ceiling, so that the limit is never less than
// one and a quarter times the live heap: closer, the collector runs back
// to back (a 358k-connection compile whose verify stage held 700 MB live
// under an 850 MiB limit spent 77 s in it instead of 22). Between two
// thirds and four fifths the collector works up to three times as often as
// GOGC=100 would; that is what keeps a 500k-connection compile, whose live
// heap peaks at ~600 MB, near 1 GB of memory instead of 1.6-1.9 GB, for
// about a quarter more time (see docs/performance.md, "Memory at scale").
//
// In a container, Floor and Ceiling are lowered to fit its memory limit
// (cgroup.go): a heap let grow to Floor must not grow past what the
// container may use.
package memlimit

import (
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// Floor and Ceiling bound ppc's soft memory limit when GOMEMLIMIT is not
// set.
const (
	Floor   = 350 << 20
	Ceiling = 850 << 20
)

// grow is the limit over the live heap between Floor and Ceiling.
const grow = 2

// liftNum/liftDen is the share of Ceiling the live heap may reach before
// the limit is lifted (the limit stays at least 1/share times the live
// heap).
const liftNum, liftDen = 4, 5

// Start sets Go's soft memory limit to floor bytes, unless GOMEMLIMIT is
// set (the user's choice wins), both bounds lowered to fit the container
// ppc runs in (fitContainer), and watches the live heap: the limit
// follows it (Limit) until it passes four fifths of ceiling, when the
// limit is lifted. While the limit follows, it alone paces the collector:
// GOGC's own trigger (twice the live heap) is turned off, unless the user
// set GOGC, and comes back when the limit is lifted. stop ends the watch
// and puts both back as they were.
func Start(floor, ceiling int64) (stop func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	floor, ceiling = fitContainer(floor, ceiling, containerLimit("/"))
	if floor <= 0 || ceiling < floor {
		return func() {}
	}
	restore := func() {}
	if os.Getenv("GOGC") == "" {
		old := debug.SetGCPercent(-1)
		var once sync.Once
		restore = func() { once.Do(func() { debug.SetGCPercent(old) }) }
	}
	oldLimit := debug.SetMemoryLimit(floor)
	set := func(limit int64) int64 {
		if limit == math.MaxInt64 {
			restore() // first: never a moment with neither bound
		}
		return debug.SetMemoryLimit(limit)
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	t := time.NewTicker(100 * time.Millisecond)
	go func() {
		defer close(finished)
		defer t.Stop()
		watch(floor, ceiling, liveHeap, set, t.C, done)
	}()
	return func() {
		close(done)
		<-finished
		restore()
		debug.SetMemoryLimit(oldLimit)
	}
}

// Limit is the soft memory limit for a live heap of live bytes: twice it
// within [floor, ceiling], or none (math.MaxInt64) once it passes four
// fifths of ceiling.
func Limit(live uint64, floor, ceiling int64) int64 {
	if live > uint64(ceiling*liftNum/liftDen) {
		return math.MaxInt64
	}
	return min(max(int64(live*grow), floor), ceiling)
}

// watch sets the limit for the live heap at every tick until done, and
// stops once it has lifted it.
func watch(floor, ceiling int64, live func() uint64, set func(int64) int64, tick <-chan time.Time, done <-chan struct{}) {
	current := floor
	for {
		select {
		case <-done:
			return
		case <-tick:
			l := Limit(live(), floor, ceiling)
			if l != current {
				set(l)
				current = l
			}
			if l == math.MaxInt64 {
				return
			}
		}
	}
}

// liveHeap is the heap the last collection found live.
func liveHeap() uint64 { return uint64Metric("/gc/heap/live:bytes") }

// uint64Metric reads one of the runtime's uint64 metrics (0 if it has
// none of that name).
func uint64Metric(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
