package cli

import (
	"context"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/internal/atomicfile"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/reports"
	"github.com/policypilot/ppc/reports/progress"
)

func init() {
	register(&command{
		name:  "learn",
		usage: "[flags] FLOWS|IR|- ...",
		short: "learn Hubble flows into an IR snapshot (inspectable, mergeable)",
		long: `Reads Hubble flows (and IR snapshots, which are merged) and writes the
normalised graph IR as versioned JSON. Snapshots learned from different days,
files or clusters are merged by 'ppc compile a.json b.json'.`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			var ingest ingestFlags
			var output, format string
			var quiet, follow bool
			var every time.Duration
			var anomaly anomalyFlags
			fs.StringVarP(&output, "output", "o", "", "write the IR to `FILE` (atomically; default stdout)")
			fs.StringVar(&format, "format", "json", "json (the snapshot) or text (the canonical dump)")
			ingest.register(fs)
			fs.BoolVarP(&quiet, "quiet", "q", false, "print only warnings and errors")
			fs.BoolVar(&follow, "follow", false, "with --hubble-server and -o: keep learning, rewriting the snapshot after every round; Ctrl-C writes it once more and exits 0")
			fs.DurationVar(&every, "snapshot-every", time.Minute, "with --follow: the time between rounds (and snapshots)")
			anomaly.register(fs)
			return func(ctx context.Context, e *env, args []string) error {
				if follow {
					return learnFollow(ctx, e, &ingest, args, output, format, every, quiet)
				}
				ingest.hubble.defaultServer(args)
				if len(args) == 0 && ingest.hubble.server == "" {
					return usageErr("no input: give flow files, - for stdin, or --hubble-server ADDR (usage: ppc learn FLOWS...)")
				}
				if format != "json" && format != "text" {
					return usageErr("--format %q: want json or text", format)
				}
				opts, err := ingest.options(e)
				if err != nil {
					return err
				}
				if err := anomaly.check(); err != nil {
					return err
				}
				baseline, err := anomaly.load(ctx, e)
				if err != nil {
					return err
				}
				prog := progress.Start(e.stderr, !quiet)
				opts.Progress = prog.Records()
				res, err := compiler.Compile(ctx, args, compiler.Options{Learn: opts, StopAfter: compiler.StageNormalize, Stage: prog.StageFunc()})
				prog.Stop()
				reports.PrintDiagnostics(e.stderr, res.Diagnostics, e.cwd)
				if err != nil {
					return &exitError{code: exitFailure, err: err}
				}
				if !anomaly.none && (!quiet || anomaly.gating()) && !res.Diagnostics.HasErrors() {
					// The summary's top finding, and the gate: the default
					// pack's detectors over the learned graph.
					if res.Anomalies, err = compiler.DetectAnomalies(ctx, res.Graph, compiler.AnomalyOptions{Baseline: baseline}); err != nil {
						return &exitError{code: exitFailure, err: err}
					}
				}
				if !quiet {
					reports.PrintCompileSummary(e.stderr, res)
				}
				write := res.Graph.Write
				if format == "text" {
					write = func(w io.Writer) error { return ir.Format(w, res.Graph) }
				}
				if output == "" {
					err = write(e.stdout)
				} else {
					err = atomicfile.WriteFunc(output, write)
				}
				if err != nil {
					return err
				}
				return anomaly.gate(e, "learn", res.Anomalies)
			}
		},
	})
}

// learnFollow is learn --follow: rounds of learning from the Hubble
// server (compiler.Follow), the snapshot rewritten atomically after each.
func learnFollow(ctx context.Context, e *env, ingest *ingestFlags, args []string, output, format string, every time.Duration, quiet bool) error {
	switch {
	case ingest.hubble.server == "":
		return usageErr("--follow needs --hubble-server")
	case len(args) > 0:
		return usageErr("--follow reads only the Hubble server: give no files")
	case output == "":
		return usageErr("--follow needs -o FILE: the snapshot it rewrites")
	case format != "json":
		return usageErr("--follow writes the JSON snapshot (--format json)")
	case every <= 0:
		return usageErr("--snapshot-every must be positive")
	case ingest.hubble.first > 0 || ingest.hubble.last > 0 || ingest.hubble.until != "":
		return usageErr("--follow learns from --since (or everything the server holds) on: --first, --last and --until do not apply")
	}
	opts, err := ingest.options(e)
	if err != nil {
		return err
	}
	prog := progress.StartFollow(e.stderr, !quiet)
	opts.Progress = prog.Records()
	rounds, gaps := 0, 0
	err = compiler.Follow(ctx, compiler.FollowOptions{
		Learn: opts, Every: every,
		Retry: func(err error, wait time.Duration) {
			prog.Println(e.stderr, reports.RetryWarning(err, wait))
		},
		Gap: func(g compiler.Gap) {
			gaps++
			prog.Println(e.stderr, reports.GapWarning(g))
		},
	}, func(g *ir.Graph) error {
		rounds++
		if err := atomicfile.WriteFunc(output, g.Write); err != nil {
			return err
		}
		prog.Snapshot(len(g.Edges))
		if !quiet {
			prog.Println(e.stderr, reports.SnapshotLine(rounds, g, gaps, output))
		}
		return nil
	})
	prog.Stop()
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	if ctx.Err() != nil {
		return errStoppedCleanly
	}
	return nil
}
