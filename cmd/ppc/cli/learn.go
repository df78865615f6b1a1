package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/internal/atomicfile"
	"github.com/policypilot/ppc/internal/textsafe"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/reports"
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
			fs.StringVarP(&output, "output", "o", "", "write the IR to `FILE` (atomically; default stdout)")
			fs.StringVar(&format, "format", "json", "json (the snapshot) or text (the canonical dump)")
			ingest.register(fs)
			fs.BoolVarP(&quiet, "quiet", "q", false, "print only warnings and errors")
			fs.BoolVar(&follow, "follow", false, "with --hubble-server and -o: keep learning, rewriting the snapshot after every round; Ctrl-C writes it once more and exits 0")
			fs.DurationVar(&every, "snapshot-every", time.Minute, "with --follow: the time between rounds (and snapshots)")
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
				prog := startProgress(e.stderr, !quiet)
				opts.Progress = prog.records()
				res, err := compiler.Compile(ctx, args, compiler.Options{Learn: opts, StopAfter: compiler.StageNormalize, Stage: prog.stageFunc()})
				prog.stop()
				reports.PrintDiagnostics(e.stderr, res.Diagnostics, e.cwd)
				if err != nil {
					return &exitError{code: exitFailure, err: err}
				}
				if !quiet {
					printCompileSummary(e.stderr, res)
				}
				write := res.Graph.Write
				if format == "text" {
					write = func(w io.Writer) error { return ir.Format(w, res.Graph) }
				}
				if output == "" {
					return write(e.stdout)
				}
				return atomicfile.WriteFunc(output, write)
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
	prog := startFollowProgress(e.stderr, !quiet)
	opts.Progress = prog.records()
	rounds, gaps := 0, 0
	err = compiler.Follow(ctx, compiler.FollowOptions{
		Learn: opts, Every: every,
		Retry: func(err error, wait time.Duration) {
			prog.println(e.stderr, fmt.Sprintf("warning: %s: retrying in %s", textsafe.Line(err.Error()), wait))
		},
		Gap: func(g compiler.Gap) {
			gaps++
			prog.println(e.stderr, gapWarning(g))
		},
	}, func(g *ir.Graph) error {
		rounds++
		if err := atomicfile.WriteFunc(output, g.Write); err != nil {
			return err
		}
		prog.snapshot(len(g.Edges))
		if !quiet {
			prog.println(e.stderr, fmt.Sprintf("ppc: snapshot %d: %d flows, %d connections between %d endpoints%s%s -> %s", rounds, g.Stats.Flows, len(g.Edges), len(g.Nodes), lostEvents(g), gapCount(gaps), textsafe.Line(output)))
		}
		return nil
	})
	prog.stop()
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	if ctx.Err() != nil {
		return errStoppedCleanly
	}
	return nil
}

// gapWarning is the warning for a stretch of time whose flows the
// server could not give.
func gapWarning(g compiler.Gap) string {
	return fmt.Sprintf("warning: flows from %s to %s are missing: %s", g.From.UTC().Format(time.RFC3339), g.To.UTC().Format(time.RFC3339), textsafe.Line(g.Msg))
}

// gapCount mentions the gaps reported so far.
func gapCount(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("; %d gaps in what the server could give (warned above)", n)
}

// lostEvents says how many lost-events records Hubble sent: flows it
// dropped (a full ring buffer, a slow reader) before ppc could read them.
func lostEvents(g *ir.Graph) string {
	if n := g.Stats.Skipped["non-flow record: lost_events"]; n > 0 {
		return fmt.Sprintf("; Hubble reported lost events %d times (flows dropped before ppc read them)", n)
	}
	return ""
}
