package cli

import (
	"context"
	"time"

	"github.com/spf13/pflag"

	"github.com/policypilot/ppc/internal/app"
)

func init() {
	register(&command{
		name:  "learn",
		usage: "[flags] FLOWS|IR|- ...",
		short: "learn Hubble flows into an IR snapshot (inspectable, mergeable)",
		long: `Reads Hubble flows (and IR snapshots, which are merged) and writes the
normalised graph IR as versioned JSON. Snapshots learned from different days,
files or clusters are merged by 'ppc compile a.json b.json'.`,
		setup: func(fs *pflag.FlagSet) func(context.Context, app.IO, []string) error {
			var ingest ingestFlags
			var output, format string
			var quiet, follow bool
			var every time.Duration
			var anomaly anomalyFlags
			fs.StringVarP(&output, "output", "o", "", "write the IR to `FILE` (atomically, gzip-compressed if it ends in .gz; default stdout)")
			fs.StringVar(&format, "format", "json", "json (the snapshot) or text (the canonical dump)")
			ingest.register(fs)
			fs.BoolVarP(&quiet, "quiet", "q", false, "print only warnings and errors")
			fs.BoolVar(&follow, "follow", false, "with --hubble-server and -o: keep learning, rewriting the snapshot after every round; Ctrl-C writes it once more and exits 0")
			fs.DurationVar(&every, "snapshot-every", time.Minute, "with --follow: the time between rounds (and snapshots)")
			anomaly.register(fs)
			return func(ctx context.Context, o app.IO, args []string) error {
				l := &app.Learn{Inputs: args, Output: output, Text: format == "text", Quiet: quiet}
				h := &ingest.hubble
				if follow {
					switch {
					case h.server == "":
						return usageErr("--follow needs --hubble-server")
					case len(args) > 0:
						return usageErr("--follow reads only the Hubble server: give no files")
					case output == "":
						return usageErr("--follow needs -o FILE: the snapshot it rewrites")
					case format != "json":
						return usageErr("--follow writes the JSON snapshot (--format json)")
					case every <= 0:
						return usageErr("--snapshot-every must be positive")
					case h.first > 0 || h.last > 0 || h.until != "":
						return usageErr("--follow learns from --since (or everything the server holds) on: --first, --last and --until do not apply")
					}
					l.Every = every
				} else {
					h.defaultServer(args)
					if len(args) == 0 && h.server == "" {
						return usageErr("no input: give flow files, - for stdin, or --hubble-server ADDR (usage: ppc learn FLOWS...)")
					}
					if format != "json" && format != "text" {
						return usageErr("--format %q: want json or text", format)
					}
				}
				var err error
				if l.Learn, err = ingest.options(o); err != nil {
					return err
				}
				if !follow {
					if err := anomaly.check(); err != nil {
						return err
					}
					if l.Baseline, err = anomaly.load(ctx, o); err != nil {
						return err
					}
					l.NoAnomalies, l.Anomaly = anomaly.none, anomaly.gate()
				}
				return l.Run(ctx, o)
			}
		},
	})
}
