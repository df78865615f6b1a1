package app

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/internal/textsafe"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/lint"
	"github.com/policypilot/ppc/reports"
	"github.com/policypilot/ppc/reports/diffreport"
	"github.com/policypilot/ppc/reports/explain"
	"github.com/policypilot/ppc/reports/lintreport"
	"github.com/policypilot/ppc/reports/progress"
)

// Compile is what ppc compile is asked to do.
type Compile struct {
	Inputs  []string         // flow files, IR snapshots, directories, "-"
	Options compiler.Options // the stages' options (Learn, Rules, Lint, …)
	// Output is the directory written one file per policy; "" writes one
	// YAML stream to stdout.
	Output string
	DryRun bool // print what would be written to Output, write nothing
	// Report, when set, is the review report's file ("-": stdout) in
	// ReportFormat (explain.FormatOf).
	Report, ReportFormat string
	// Dump prints an intermediate result instead of policies: "ir" or
	// "decisions" (Options.StopAfter must stop there).
	Dump    string
	Quiet   bool // print only warnings and errors
	Timings bool // print each stage's time
	Anomaly AnomalyGate
	// Base, when set, is the directory of policies the compile starts
	// from and writes back to (Output must be Base): see compiler.Rebase.
	Base       string
	StaleAfter time.Duration
	Prune      bool
	// Every, when positive, is compile --follow: learn from the Hubble
	// server (Options.Learn.Hubble) in rounds of Every, recompile after
	// each and rewrite Output when the policies changed.
	Every time.Duration
}

// Run compiles and writes the policies (and the report): nothing is
// written unless every check and gate passed.
func (c *Compile) Run(ctx context.Context, o IO) error {
	if c.Every > 0 {
		return c.follow(ctx, o)
	}
	opts := c.Options
	prog := progress.Start(o.Stderr, !c.Quiet)
	opts.Learn.Progress, opts.Stage = prog.Records(), prog.StageFunc()
	res, err := compiler.Compile(ctx, c.Inputs, opts)
	prog.Stop()
	reports.PrintDiagnostics(o.Stderr, res.Diagnostics, o.Cwd)
	if err != nil {
		return err
	}
	if !c.Quiet {
		reports.PrintCompileSummary(o.Stderr, res)
	}
	var write time.Duration // rendering YAML and writing it, after the stages
	if c.Timings {
		defer func() {
			ts := res.Timings
			if write > 0 {
				ts = append(slices.Clip(ts), compiler.Timing{Stage: "write", Duration: write, Note: "YAML and files"})
			}
			reports.PrintTimings(o.Stderr, ts)
		}()
	}
	if res.Diagnostics.HasErrors() {
		fmt.Fprintf(o.Stderr, "ppc compile: %d errors; nothing written\n", res.Diagnostics.Count(ir.Error))
		return ErrFailed
	}
	switch c.Dump {
	case "ir":
		return ir.Format(o.Stdout, res.Graph)
	case "decisions":
		return reports.WriteJSON(o.Stdout, res.Decisions)
	}
	if s := opts.StopAfter; s != "" && s != compiler.StageEmit && s != compiler.StageLint {
		return nil
	}
	if n, err := lintGate(o, res); err != nil || n > 0 {
		if n > 0 {
			fmt.Fprintf(o.Stderr, "ppc compile: %d lint deny findings; nothing written\n", n)
			err = ErrFailed
		}
		return err
	}
	if err := c.Anomaly.check(o, "compile", res.Anomalies); err != nil {
		return err
	}
	if c.Base != "" {
		if err := c.rebase(ctx, o, res); err != nil {
			return err
		}
	}
	// The report is rendered first and written last: a compile that
	// cannot write its policies writes no report either.
	var report []byte
	if c.Report != "" {
		in, err := explain.FromCompile(res, "ppc policy report", c.Inputs)
		if err == nil {
			in.Cwd = o.Cwd
			report, err = explain.Render(in, c.ReportFormat)
		}
		if err != nil {
			return err
		}
	}
	// Writing needs the documents alone: the graph, the policies as
	// Cilium's types and replay's account of every connection (400 MB at
	// 5,000 policies) are let go before it.
	docs := res.Docs
	*res = compiler.Result{Timings: res.Timings}
	// Collected now, the heap those held (most of the compile's) is
	// reused by the write; left to the pacer, the write's allocations
	// found it still occupied and the heap grew past the stages' peak.
	runtime.GC()
	start := time.Now()
	if c.Output == "" {
		b, err := reports.Stream(docs)
		if err == nil {
			_, err = o.Stdout.Write(b)
		}
		if err != nil {
			return err
		}
	} else {
		wr, err := reports.WriteDir(c.Output, docs, reports.DirOptions{DryRun: c.DryRun})
		if err != nil {
			return err
		}
		for _, n := range wr.Notes {
			fmt.Fprintf(o.Stderr, "note: %s\n", textsafe.Line(n))
		}
		if c.DryRun {
			reports.PrintDryRun(o.Stdout, wr, o.Cwd)
			return nil
		}
		if !c.Quiet {
			reports.PrintWritten(o.Stderr, wr, c.Output, o.Cwd)
		}
	}
	write = time.Since(start)
	if report != nil {
		if err := writeFile(o, c.Report, report); err != nil {
			return err
		}
		if !c.Quiet && c.Report != "-" {
			fmt.Fprintf(o.Stderr, "ppc: report written to %s\n", c.Report)
		}
	}
	return nil
}

// follow is compile --follow: compiler.Follow learns from the Hubble
// server in rounds; after each, the whole graph is compiled (every check
// included) and the directory rewritten when the policies changed. A
// round whose policies fail a check leaves the directory as it was.
func (c *Compile) follow(ctx context.Context, o IO) error {
	round := 0
	err := compiler.Follow(ctx, compiler.FollowOptions{
		Learn: c.Options.Learn, Every: c.Every,
		Retry: func(err error, wait time.Duration) {
			fmt.Fprintln(o.Stderr, reports.RetryWarning(err, wait))
		},
		Gap: func(g compiler.Gap) { fmt.Fprintln(o.Stderr, reports.GapWarning(g)) },
	}, func(g *ir.Graph) error {
		if ctx.Err() != nil {
			return nil // Ctrl-C: the directory holds the last complete round
		}
		round++
		opts := c.Options
		opts.Learn, opts.Graph = compiler.LearnOptions{}, g
		res, err := compiler.Compile(ctx, nil, opts)
		reports.PrintDiagnostics(o.Stderr, res.Diagnostics, o.Cwd)
		if err != nil {
			return err
		}
		if res.Diagnostics.HasErrors() {
			fmt.Fprintf(o.Stderr, "ppc compile: round %d: %d errors; %s left as it was\n", round, res.Diagnostics.Count(ir.Error), textsafe.Line(c.Output))
			return nil
		}
		if n, err := lintGate(o, res); err != nil || n > 0 {
			if n > 0 {
				fmt.Fprintf(o.Stderr, "ppc compile: round %d: %d lint deny findings; %s left as it was\n", round, n, textsafe.Line(c.Output))
			}
			return err
		}
		wr, err := reports.WriteDir(c.Output, res.Docs, reports.DirOptions{})
		if err != nil {
			return err
		}
		reports.PrintRound(o.Stderr, round, wr, g, c.Quiet, o.Cwd)
		return nil
	})
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ErrStopped
	}
	return nil
}

// lintGate prints the lint gate's findings (if it ran) and returns the
// number of deny findings: any fails the compile before anything is
// written.
func lintGate(o IO, res *compiler.Result) (int, error) {
	rep := res.Lint
	if rep == nil {
		return 0, nil
	}
	if len(rep.Findings) > 0 {
		if err := lintreport.Formats.Write(o.Stderr, "text", rep, reports.Options{}); err != nil {
			return 0, err
		}
	}
	return rep.Count(lint.Deny), nil
}

// rebase is compile --base: the compiled policies merged into the base
// directory's (compiler.Rebase), the diff against the base printed.
func (c *Compile) rebase(ctx context.Context, o IO, res *compiler.Result) error {
	base, bad, _, err := manifest.ReadPaths([]string{c.Base}, o.Stdin)
	if err != nil {
		return err
	}
	if bad.HasErrors() {
		reports.PrintDiagnostics(o.Stderr, bad, o.Cwd)
		return fmt.Errorf("--base %s: unreadable policies", c.Base)
	}
	rb, err := compiler.Rebase(ctx, res, base, compiler.RebaseOptions{StaleAfter: c.StaleAfter, Prune: c.Prune, Agent: res.Agent, Namespace: "default"})
	if err != nil {
		return err
	}
	for _, n := range rb.Notes {
		fmt.Fprintf(o.Stderr, "note: %s\n", textsafe.Line(n))
	}
	if !c.Quiet {
		reports.PrintRebase(o.Stderr, rb, c.Base)
		if err := diffreport.Formats.Write(o.Stderr, "text", &diffreport.Diff{Old: c.Base, New: "this compile", Result: rb.Diff}, reports.Options{Cwd: o.Cwd}); err != nil {
			return err
		}
	}
	res.Docs = rb.Docs
	return nil
}
