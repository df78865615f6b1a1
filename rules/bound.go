package rules

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// DefaultMemoryLimit bounds the heap while rule packs evaluate: a pack
// that builds a huge set (a comprehension over every address of a /8)
// is stopped with an error instead of taking the process down.
const DefaultMemoryLimit = 4 << 30

// locateFor bounds the traced re-run that finds where a stopped
// evaluation was spending its time.
const locateFor = 10 * time.Second

// Bounds are the limits of one evaluation of rule packs: compile's
// decision, lint's judgement of one policy, one Rego test.
type Bounds struct {
	Timeout time.Duration // 0: DefaultTimeout
	Memory  uint64        // heap bytes; 0: DefaultMemoryLimit
	// TimeoutFlag and MemoryFlag name the flags that raise the bounds, for
	// the error (default --rule-timeout, --rule-memory).
	TimeoutFlag, MemoryFlag string
}

// BoundError says that an evaluation was stopped by one of its bounds,
// and where in the packs it was.
type BoundError struct {
	Memory   bool // the heap bound, not the timeout
	Bounds   Bounds
	Location *ast.Location // the expression being evaluated, if found
}

func (e *BoundError) Error() string {
	at := ""
	if e.Location != nil {
		at = fmt.Sprintf(" (stopped evaluating %s:%d)", e.Location.File, e.Location.Row)
	}
	if e.Memory {
		return fmt.Sprintf("rule packs used more than %d MiB of memory%s: look for a rule that builds a huge collection, or raise the bound with %s", e.Bounds.Memory>>20, at, e.Bounds.MemoryFlag)
	}
	return fmt.Sprintf("rule packs did not finish within %s%s: look for a rule that iterates more than it needs, or raise the bound with %s", e.Bounds.Timeout, at, e.Bounds.TimeoutFlag)
}

// WithDefaults fills the zero fields with the defaults.
func (b Bounds) WithDefaults() Bounds {
	if b.Timeout <= 0 {
		b.Timeout = DefaultTimeout
	}
	if b.Memory == 0 {
		b.Memory = DefaultMemoryLimit
	}
	if b.TimeoutFlag == "" {
		b.TimeoutFlag = "--rule-timeout"
	}
	if b.MemoryFlag == "" {
		b.MemoryFlag = "--rule-memory"
	}
	return b
}

// Run runs eval (an OPA evaluation; tr is nil, or a tracer to pass to
// it) within the bounds. An interruption of ctx returns ctx's error. When
// a bound stops it, Run evaluates once more, traced, for at most ten
// seconds and within the same bounds, to name the expression it was
// evaluating when stopped, and returns a *BoundError.
func (b Bounds) Run(ctx context.Context, eval func(ctx context.Context, tr topdown.QueryTracer) error) error {
	b = b.WithDefaults()
	memory, timedOut, err := b.run(ctx, b.Timeout, nil, eval)
	if err == nil {
		return nil
	}
	if perr := ctx.Err(); perr != nil {
		return perr // interrupted: not a bound
	}
	if !memory && !timedOut {
		return err
	}
	be := &BoundError{Memory: memory, Bounds: b}
	runtime.GC() // the stopped evaluation's garbage must not count against the re-run
	tr := &lastLocation{}
	b.run(ctx, min(b.Timeout, locateFor), tr, eval)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	be.Location = tr.loc.Load()
	return be
}

// run evaluates with a deadline and the heap watch; memory and timedOut
// report which bound, if any, stopped it.
func (b Bounds) run(ctx context.Context, timeout time.Duration, tr topdown.QueryTracer, eval func(context.Context, topdown.QueryTracer) error) (memory, timedOut bool, err error) {
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	mctx, over, stop := memoryBound(dctx, b.Memory)
	defer stop()
	err = eval(mctx, tr)
	if err == nil {
		return false, false, nil
	}
	return over(), errors.Is(dctx.Err(), context.DeadlineExceeded), err
}

// lastLocation is a query tracer that keeps the location of the last
// expression evaluated.
type lastLocation struct{ loc atomic.Pointer[ast.Location] }

func (l *lastLocation) Enabled() bool { return true }

func (l *lastLocation) TraceEvent(ev topdown.Event) {
	if ev.Op == topdown.EvalOp && ev.Location != nil {
		l.loc.Store(ev.Location)
	}
}

func (l *lastLocation) Config() topdown.TraceConfig { return topdown.TraceConfig{} }

// WatchMemory cancels the returned context when the process's heap
// grows past limit bytes while it runs, garbage left out (a collection is
// run before the heap is judged over); exceeded reports whether it did.
// stop ends the watch. (For evaluations Bounds.Run cannot wrap, such as
// OPA's test runner.)
func WatchMemory(ctx context.Context, limit uint64) (bounded context.Context, exceeded func() bool, stop func()) {
	return memoryBound(ctx, limit)
}

// heapObjects reads the bytes of the heap's objects (live and not yet
// swept) into sample, a one-element sample of
// /memory/classes/heap/objects:bytes.
func heapObjects(sample []metrics.Sample) uint64 {
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return sample[0].Value.Uint64()
}

// memoryBound is WatchMemory.
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
				if heapObjects(sample) <= limit {
					continue
				}
				// The heap's objects count garbage until the collector
				// has run, and ppc's collector may let the heap grow
				// past this bound before it does (internal/memlimit
				// paces it by a soft limit of at least 350 MiB): only
				// what is still there after a collection is over.
				runtime.GC()
				if heapObjects(sample) > limit {
					over.Store(true)
					cancel()
					return
				}
			}
		}
	}()
	return ctx, over.Load, func() { close(done); cancel() }
}
