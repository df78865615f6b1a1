package cli

import (
	"context"
	"encoding/json"
	"io"

	"github.com/spf13/pflag"

	"github.com/policypilot/ppc/compiler"
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
			var quiet bool
			fs.StringVarP(&output, "output", "o", "", "write the IR to `FILE` (atomically; default stdout)")
			fs.StringVar(&format, "format", "json", "json (the snapshot) or text (the canonical dump)")
			ingest.register(fs)
			fs.BoolVarP(&quiet, "quiet", "q", false, "print only warnings and errors")
			return func(ctx context.Context, e *env, args []string) error {
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
				printDiagnostics(e.stderr, res.Diagnostics, e.cwd)
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
				return reports.WriteFileAtomicFunc(output, write)
			}
		},
	})
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
