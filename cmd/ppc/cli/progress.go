package cli

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/flows"
)

// progress draws one status line on a terminal's stderr while a long run
// reads and compiles flows: the stage, the records read and the rate. It
// draws nothing when stderr is not a terminal or with --quiet.
type progress struct {
	w       io.Writer
	counts  flows.Progress
	stage   atomic.Value // compiler.StageID
	start   time.Time
	done    chan struct{}
	stopped sync.WaitGroup
	drawn   bool
}

// startProgress starts the indicator if w is a terminal and on is set;
// the returned progress is nil otherwise (its methods accept nil).
func startProgress(w io.Writer, on bool) *progress {
	f, ok := w.(*os.File)
	if !on || !ok || os.Getenv("TERM") == "dumb" {
		return nil
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	p := &progress{w: w, start: time.Now(), done: make(chan struct{})}
	p.stage.Store(compiler.StageLearn)
	p.stopped.Add(1)
	go p.loop()
	return p
}

func (p *progress) loop() {
	defer p.stopped.Done()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			if p.drawn {
				fmt.Fprint(p.w, "\r\x1b[K")
			}
			return
		case <-t.C:
			n := p.counts.Records.Load()
			secs := time.Since(p.start).Seconds()
			fmt.Fprintf(p.w, "\r\x1b[Kppc: %s: %d records read, %.0f records/s, %.0fs", p.stage.Load(), n, float64(n)/secs, secs)
			p.drawn = true
		}
	}
}

// records is the counter the reader updates (nil without an indicator).
func (p *progress) records() *flows.Progress {
	if p == nil {
		return nil
	}
	return &p.counts
}

// stageFunc is the compiler's stage hook (nil without an indicator).
func (p *progress) stageFunc() func(compiler.StageID) {
	if p == nil {
		return nil
	}
	return func(id compiler.StageID) { p.stage.Store(id) }
}

// stop erases the line.
func (p *progress) stop() {
	if p == nil {
		return
	}
	close(p.done)
	p.stopped.Wait()
}

// profiler writes --cpuprofile and --memprofile.
type profiler struct {
	cpu, mem string
	cpuFile  *os.File
}

func (pr *profiler) start() error {
	if pr.cpu == "" {
		return nil
	}
	f, err := os.Create(pr.cpu)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	pr.cpuFile = f
	return nil
}

func (pr *profiler) stop() error {
	if pr.cpuFile != nil {
		pprof.StopCPUProfile()
		if err := pr.cpuFile.Close(); err != nil {
			return err
		}
	}
	if pr.mem != "" {
		f, err := os.Create(pr.mem)
		if err != nil {
			return err
		}
		runtime.GC()
		if err := pprof.WriteHeapProfile(f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return nil
}
