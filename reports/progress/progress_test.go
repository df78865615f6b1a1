package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	now := t0
	var buf bytes.Buffer
	p := newIndicator(&buf)
	p.start, p.now = t0, func() time.Time { return now }

	now = t0.Add(4 * time.Second)
	p.counts.Records.Add(2000)
	if got, want := p.line(), "ppc: learn: 2000 records read, 500 records/s, 4s"; got != want {
		t.Errorf("compile line = %q, want %q", got, want)
	}

	p.follow = true
	if got, want := p.line(), "ppc: following: 2000 records read, 500 records/s, 0 connections, no snapshot yet, 4s"; got != want {
		t.Errorf("follow line before a snapshot = %q, want %q", got, want)
	}
	p.Snapshot(42)
	now = t0.Add(64 * time.Second)
	p.counts.Records.Add(30000)
	// The rate is that of the last rateWindow: 30000 records in 60 s
	// since the previous line (the only sample in the window).
	if got, want := p.line(), "ppc: following: 32000 records read, 500 records/s, 42 connections, snapshot 1 written 1m0s ago, 1m4s"; got != want {
		t.Errorf("follow line = %q, want %q", got, want)
	}
	// A stream that goes quiet shows 0/s once its last records leave the
	// window, not a slowly decaying average.
	for i := 1; i <= 5; i++ {
		now = now.Add(3 * time.Second)
		p.line()
	}
	if got := p.line(); !strings.Contains(got, " 0 records/s") {
		t.Errorf("quiet stream: %q, want 0 records/s", got)
	}
	p.counts.Records.Add(1000)
	now = now.Add(2 * time.Second)
	if got := p.line(); !strings.Contains(got, "33000 records read, 91 records/s") {
		t.Errorf("1000 records in the 11 s since the oldest sample kept: %q", got)
	}

	// A message goes on a line of its own: the status line is erased
	// first and drawn again by the next tick.
	p.draw()
	p.Println(nil, "ppc: snapshot 2: …")
	p.draw()
	out := buf.String()
	if want := "\r\x1b[Kppc: following: 33000 records read"; !strings.HasPrefix(out, want) {
		t.Errorf("output starts %q, want prefix %q", out, want)
	}
	if !strings.Contains(out, "ago, 1m21s\r\x1b[Kppc: snapshot 2: …\n\r\x1b[Kppc: following:") {
		t.Errorf("message not printed between erased and redrawn status lines: %q", out)
	}
}

func TestProgressNil(t *testing.T) {
	var buf bytes.Buffer
	if p := StartFollow(&buf, true); p != nil {
		t.Fatal("a buffer is not a terminal: want no indicator")
	}
	var p *Indicator
	p.Snapshot(3)
	p.Println(&buf, "ppc: snapshot 1")
	p.Stop()
	if p.Records() != nil || p.StageFunc() != nil {
		t.Error("a nil progress hands out counters")
	}
	if buf.String() != "ppc: snapshot 1\n" {
		t.Errorf("without an indicator the message is written as is: %q", buf.String())
	}
}
