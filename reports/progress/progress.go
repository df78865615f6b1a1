// Package progress owns ppc's status line: one line on a terminal's
// stderr while a long run reads and compiles flows (stage, records read,
// rate), and while following a Hubble server the connections learned and
// the age of the last snapshot, with messages printed above it. It draws
// nothing when stderr is not a terminal.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/flows"
)

// Indicator draws one status line on a terminal's stderr while a long run
// reads and compiles flows: the stage, the records read and the rate. It
// draws nothing when stderr is not a terminal or with --quiet. While
// following a Hubble server (learn --follow) the line also shows the
// connections learned and the age of the last snapshot, and messages
// printed through the progress (Println) go above it.
type Indicator struct {
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

// Start starts the indicator if w is a terminal and on is set; the
// returned indicator is nil otherwise (its methods accept nil).
func Start(w io.Writer, on bool) *Indicator {
	if !on || !IsTerminal(w) {
		return nil
	}
	p := newIndicator(w)
	p.stopped.Add(1)
	go p.loop()
	return p
}

// StartFollow is Start for learn --follow.
func StartFollow(w io.Writer, on bool) *Indicator {
	if !on || !IsTerminal(w) {
		return nil
	}
	p := newIndicator(w)
	p.follow = true
	p.stopped.Add(1)
	go p.loop()
	return p
}

// IsTerminal reports whether w is a character device that is not a dumb
// terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func newIndicator(w io.Writer) *Indicator {
	p := &Indicator{w: w, start: time.Now(), done: make(chan struct{}), now: time.Now}
	p.stage.Store(compiler.StageLearn)
	return p
}

func (p *Indicator) loop() {
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
func (p *Indicator) line() string {
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

func (p *Indicator) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r\x1b[K%s", p.line())
	p.drawn = true
}

// Snapshot records a snapshot written with edges connections (follow
// mode).
func (p *Indicator) Snapshot(edges int) {
	if p == nil {
		return
	}
	p.edges.Store(int64(edges))
	p.snapshots.Add(1)
	p.lastSnap.Store(p.now().UnixNano())
}

// Println prints msg on a line of its own above the status line (which
// the next tick redraws); without an indicator it writes to w.
func (p *Indicator) Println(w io.Writer, msg string) {
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

// Records is the counter the reader updates (nil without an indicator).
func (p *Indicator) Records() *flows.Progress {
	if p == nil {
		return nil
	}
	return &p.counts
}

// StageFunc is the compiler's stage hook (nil without an indicator).
func (p *Indicator) StageFunc() func(compiler.StageID) {
	if p == nil {
		return nil
	}
	return func(id compiler.StageID) { p.stage.Store(id) }
}

// Stop erases the line.
func (p *Indicator) Stop() {
	if p == nil {
		return
	}
	close(p.done)
	p.stopped.Wait()
}
