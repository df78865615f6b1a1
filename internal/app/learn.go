package app

import (
	"compress/gzip"
	"context"
	"io"
	"strings"
	"time"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/internal/atomicfile"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/reports"
	"github.com/policypilot/ppc/reports/progress"
)

// Learn is what ppc learn is asked to do: learn flows into an IR snapshot.
type Learn struct {
	Inputs []string
	Learn  compiler.LearnOptions
	// Output is the snapshot's file, written atomically (gzip-compressed
	// when it ends in .gz); "" is stdout.
	Output string
	Text   bool // write the canonical text dump instead of JSON
	Quiet  bool
	// NoAnomalies skips the detectors (the summary's top finding and
	// the gate); Baseline is the snapshot they compare with.
	NoAnomalies bool
	Baseline    *ir.Graph
	Anomaly     AnomalyGate
	// Every, when positive, is learn --follow: rounds of Every from the
	// Hubble server, the JSON snapshot rewritten after each, until
	// Ctrl-C (which returns ErrStopped).
	Every time.Duration
}

// Run learns the flows and writes the snapshot.
func (l *Learn) Run(ctx context.Context, o IO) error {
	if l.Every > 0 {
		return l.follow(ctx, o)
	}
	prog := progress.Start(o.Stderr, !l.Quiet)
	opts := l.Learn
	opts.Progress = prog.Records()
	res, err := compiler.Compile(ctx, l.Inputs, compiler.Options{Learn: opts, StopAfter: compiler.StageNormalize, Stage: prog.StageFunc()})
	prog.Stop()
	reports.PrintDiagnostics(o.Stderr, res.Diagnostics, o.Cwd)
	if err != nil {
		return err
	}
	if !l.NoAnomalies && (!l.Quiet || l.Anomaly.On) && !res.Diagnostics.HasErrors() {
		// The summary's top finding, and the gate: the default pack's
		// detectors over the learned graph.
		if res.Anomalies, err = compiler.DetectAnomalies(ctx, res.Graph, compiler.AnomalyOptions{Baseline: l.Baseline}); err != nil {
			return err
		}
	}
	if !l.Quiet {
		reports.PrintCompileSummary(o.Stderr, res)
	}
	write := res.Graph.Write
	if l.Text {
		write = func(w io.Writer) error { return ir.Format(w, res.Graph) }
	}
	if l.Output == "" {
		err = write(o.Stdout)
	} else {
		err = atomicfile.WriteFunc(l.Output, compressed(l.Output, write))
	}
	if err != nil {
		return err
	}
	return l.Anomaly.check(o, "learn", res.Anomalies)
}

// follow is learn --follow: rounds of learning from the Hubble server
// (compiler.Follow), the snapshot rewritten atomically after each.
func (l *Learn) follow(ctx context.Context, o IO) error {
	prog := progress.StartFollow(o.Stderr, !l.Quiet)
	opts := l.Learn
	opts.Progress = prog.Records()
	rounds, gaps := 0, 0
	err := compiler.Follow(ctx, compiler.FollowOptions{
		Learn: opts, Every: l.Every,
		Retry: func(err error, wait time.Duration) {
			prog.Println(o.Stderr, reports.RetryWarning(err, wait))
		},
		Gap: func(g compiler.Gap) {
			gaps++
			prog.Println(o.Stderr, reports.GapWarning(g))
		},
	}, func(g *ir.Graph) error {
		rounds++
		if err := atomicfile.WriteFunc(l.Output, compressed(l.Output, g.Write)); err != nil {
			return err
		}
		prog.Snapshot(len(g.Edges))
		if !l.Quiet {
			prog.Println(o.Stderr, reports.SnapshotLine(rounds, g, gaps, l.Output))
		}
		return nil
	})
	prog.Stop()
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ErrStopped
	}
	return nil
}

// compressed is write, gzip-compressed when path ends in .gz (the
// snapshot of a large cluster is hundreds of megabytes of JSON; ppc reads
// it back compressed or not). The gzip header carries no name or time, so
// the same graph gives the same bytes.
func compressed(path string, write func(io.Writer) error) func(io.Writer) error {
	if !strings.HasSuffix(path, ".gz") {
		return write
	}
	return func(w io.Writer) error {
		zw := gzip.NewWriter(w)
		if err := write(zw); err != nil {
			return err
		}
		return zw.Close()
	}
}
