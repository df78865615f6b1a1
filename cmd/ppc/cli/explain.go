package cli

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/policypilot/ppc/internal/app"
	"github.com/policypilot/ppc/reports/explain"
)

type explainParams struct {
	src     replaySource
	rules   []string
	set     []string
	schemas []string
	output  string
	format  string
	title   string
	noProbe bool
	anomaly anomalyFlags
}

func init() {
	register(&command{
		name:  "explain",
		usage: "--flows FLOWS [--flows FLOWS...] [flags] [POLICY_PATH|- ...] -o report.html|report.md",
		short: "write a review report: self-contained HTML (topology, statistics, policies) or Markdown",
		long: `Writes a report a reviewer would rather read than YAML: the topology of the
observed traffic (workloads by namespace, entities, CIDR and FQDN peers;
edges coloured by what the policies do with them), statistics (flows read
and skipped, workloads, connections, policies, rules, the over-allow ratio
of the least-privilege probe, flows per policy, rules no flow exercised)
and each policy with its YAML, the flows behind each of its rules and its
verification result.

Without POLICY_PATH the flows are compiled (as ppc compile would, with
--rules and --set) and the report explains the compiled policies; with
POLICY_PATH it explains those policies, replayed against the flows as
ppc replay does.

-o FILE.html writes one HTML file that works offline (Mermaid is inlined;
no network request at view time); -o FILE.md writes Markdown for a pull
request (GitHub draws the Mermaid block). Without -o the report goes to
stdout in --format (html or md). The same input gives the same bytes.

Exit status: 0 report written, 1 the policies could not be compiled, 2
usage error or unreadable input.`,
		setup: func(fs *pflag.FlagSet) func(context.Context, app.IO, []string) error {
			p := &explainParams{}
			p.src.register(fs)
			fs.StringArrayVar(&p.rules, "rules", nil, "without POLICY_PATH: layer the rule pack in `DIR` over the default pack (repeatable)")
			fs.StringArrayVar(&p.set, "set", nil, "without POLICY_PATH: override a rule-pack setting (repeatable)")
			fs.StringArrayVar(&p.schemas, "schemas", nil, "without POLICY_PATH: also check policies against the CUE #Policy in `DIR`")
			fs.StringVarP(&p.output, "output", "o", "", "write the report to `FILE` (.html or .md; default stdout)")
			fs.StringVar(&p.format, "format", "", "html or md (default: from -o's extension, else html)")
			fs.StringVar(&p.title, "title", "", "the report's title (default: \"ppc policy report\")")
			fs.BoolVar(&p.noProbe, "no-probe", false, "skip the least-privilege probe")
			p.anomaly.register(fs)
			return func(ctx context.Context, o app.IO, args []string) error { return runExplain(ctx, o, p, args) }
		},
	})
}

func runExplain(ctx context.Context, o app.IO, p *explainParams, args []string) error {
	x := &app.Explain{Policies: args, Rules: p.rules, Set: p.set, Schemas: p.schemas, Title: p.title, Output: p.output,
		NoProbe: p.noProbe, NoAnomalies: p.anomaly.none, Anomaly: p.anomaly.gate()}
	var err error
	if x.Format, err = explain.FormatOf(p.output, p.format); err != nil {
		return usageErr("%v", err)
	}
	if x.Title == "" {
		x.Title = "ppc policy report"
	}
	if err := p.anomaly.check(); err != nil {
		return err
	}
	if x.Baseline, err = p.anomaly.load(ctx, o); err != nil {
		return err
	}
	var src *app.Flows
	if len(args) > 0 {
		src, err = p.src.replayed(o, "explain", args)
	} else {
		p.src.hubble.defaultServer(p.src.flows)
		if len(p.src.flows) == 0 && p.src.hubble.server == "" {
			return usageErr("no flows: give --flows FILE or --hubble-server ADDR (usage: ppc explain --flows FLOWS [POLICY_PATH...])")
		}
		src, err = p.src.source(o)
	}
	if err != nil {
		return err
	}
	x.Flows = *src
	return x.Run(ctx, o)
}
