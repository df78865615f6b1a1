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
// draws nothing when stderr is not a terminal or with --quiet. While
// following a Hubble server (learn --follow) the line also shows the
// connections learned and the age of the last snapshot, and messages
// printed through the progress (println) go above it.
type progress struct {
	w       io.Writer
	counts  flows.Progress
	stage   atomic.Value // compiler.StageID
	start   time.Time
	done    chan struct{}
	stopped sync.WaitGroup
	now     func() time.Time

	// follow mode: set by snapshot.
	follow    bool
	edges     atomic.Int64
	snapshots atomic.Int64
	lastSnap  atomic.Int64 // UnixNano of the last snapshot written
	recent    []sample     // the counts of the last rateWindow, oldest first

	mu    sync.Mutex // guards w and drawn
	drawn bool
}

// startProgress starts the indicator if w is a terminal and on is set;
// the returned progress is nil otherwise (its methods accept nil).
func startProgress(w io.Writer, on bool) *progress {
	if !on || !isTerminal(w) {
		return nil
	}
	p := newProgress(w)
	p.stopped.Add(1)
	go p.loop()
	return p
}

// startFollowProgress is startProgress for learn --follow.
func startFollowProgress(w io.Writer, on bool) *progress {
	if !on || !isTerminal(w) {
		return nil
	}
	p := newProgress(w)
	p.follow = true
	p.stopped.Add(1)
	go p.loop()
	return p
}

// isTerminal reports whether w is a character device that is not a dumb
// terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, start: time.Now(), done: make(chan struct{}), now: time.Now}
	p.stage.Store(compiler.StageLearn)
	return p
}

func (p *progress) loop() {
	defer p.stopped.Done()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			p.mu.Lock()
			if p.drawn {
				fmt.Fprint(p.w, "\r\x1b[K")
			}
			p.mu.Unlock()
			return
		case <-t.C:
			p.draw()
		}
	}
}

// sample is the record count at one time.
type sample struct {
	at time.Time
	n  int64
}

// rateWindow is the span over which follow mode measures the rate: a
// live stream's rate now, not its average since the start.
const rateWindow = 10 * time.Second

// line is the status line's text.
func (p *progress) line() string {
	n := p.counts.Records.Load()
	now := p.now()
	secs := now.Sub(p.start).Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(n) / secs
	}
	if !p.follow {
		return fmt.Sprintf("ppc: %s: %d records read, %.0f records/s, %.0fs", p.stage.Load(), n, rate, secs)
	}
	p.recent = append(p.recent, sample{now, n})
	for len(p.recent) > 2 && now.Sub(p.recent[1].at) >= rateWindow {
		p.recent = p.recent[1:]
	}
	if old := p.recent[0]; len(p.recent) > 1 && now.After(old.at) {
		rate = float64(n-old.n) / now.Sub(old.at).Seconds() // else the average since the start
	}
	last := "no snapshot yet"
	if at := p.lastSnap.Load(); at != 0 {
		last = fmt.Sprintf("snapshot %d written %s ago", p.snapshots.Load(), p.now().Sub(time.Unix(0, at)).Round(time.Second))
	}
	return fmt.Sprintf("ppc: following: %d records read, %.0f records/s, %d connections, %s, %s", n, rate, p.edges.Load(), last, time.Duration(secs*float64(time.Second)).Round(time.Second))
}

func (p *progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r\x1b[K%s", p.line())
	p.drawn = true
}

// snapshot records a snapshot written with edges connections (follow
// mode).
func (p *progress) snapshot(edges int) {
	if p == nil {
		return
	}
	p.edges.Store(int64(edges))
	p.snapshots.Add(1)
	p.lastSnap.Store(p.now().UnixNano())
}

// println prints msg on a line of its own above the status line (which
// the next tick redraws); without an indicator it writes to w.
func (p *progress) println(w io.Writer, msg string) {
	if p == nil {
		fmt.Fprintln(w, msg)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
	fmt.Fprintln(p.w, msg)
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
