package cli

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/lower"
	"github.com/policypilot/ppc/internal/atomicfile"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/reports"
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
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
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
			return func(ctx context.Context, e *env, args []string) error { return runExplain(ctx, e, p, args) }
		},
	})
}

// writeFile writes b atomically to path ("" or "-": stdout).
func writeFile(e *env, path string, b []byte) error {
	if path == "" || path == "-" {
		_, err := e.stdout.Write(b)
		return err
	}
	if err := atomicfile.Write(path, b); err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	return nil
}

func runExplain(ctx context.Context, e *env, p *explainParams, args []string) error {
	format, err := explain.FormatOf(p.output, p.format)
	if err != nil {
		return usageErr("%v", err)
	}
	title := p.title
	if title == "" {
		title = "ppc policy report"
	}
	if err := p.anomaly.check(); err != nil {
		return err
	}
	baseline, err := p.anomaly.load(ctx, e)
	if err != nil {
		return err
	}
	var in *explain.Input
	if len(args) > 0 {
		run, res, err := p.src.run(ctx, e, args, "explain", !p.noProbe, 10)
		if err != nil {
			return err
		}
		var found *compiler.AnomalyReport
		if !p.anomaly.none {
			if found, err = compiler.DetectAnomalies(ctx, res.Graph, compiler.AnomalyOptions{Rules: p.rules, Set: p.set, Baseline: baseline, Attempts: true}); err != nil {
				return &exitError{code: exitFailure, err: err}
			}
		}
		if in, err = explain.FromReplay(explain.Replayed{Title: title, Policies: args, Flows: p.src.flows, Learned: res, Cluster: run.Cluster, Replay: run.replay, Agent: run.settings, Cwd: e.cwd, Anomalies: found, Baseline: baseline}); err != nil {
			return err
		}
	} else {
		p.src.hubble.defaultServer(p.src.flows)
		if len(p.src.flows) == 0 && p.src.hubble.server == "" {
			return usageErr("no flows: give --flows FILE or --hubble-server ADDR (usage: ppc explain --flows FLOWS [POLICY_PATH...])")
		}
		learn, err := p.src.learnOptions(e, lower.Options{})
		if err != nil {
			return err
		}
		settings, err := p.src.agent.settings()
		if err != nil {
			return usageErr("%v", err)
		}
		res, err := compiler.Compile(ctx, p.src.flows, compiler.Options{
			Learn: learn,
			Rules: p.rules, Set: p.set, Schemas: p.schemas,
			Agent: settings, InferCluster: !p.src.agent.clusterSet(), NoProbe: p.noProbe,
			NoAnomalies: p.anomaly.none, Baseline: baseline,
		})
		reports.PrintDiagnostics(e.stderr, res.Diagnostics, e.cwd)
		if err != nil {
			return compileError(err)
		}
		if res.Completed != compiler.StageEmit && res.Replay == nil {
			fmt.Fprintf(e.stderr, "ppc explain: compiling failed (%d errors); no report\n", res.Diagnostics.Count(ir.Error))
			return &exitError{code: exitFailed, printed: true}
		}
		in, err = explain.FromCompile(res, title, p.src.flows)
		if err != nil {
			return err
		}
	}
	in.Cwd = e.cwd
	b, err := explain.Render(in, format)
	if err != nil {
		return err
	}
	if err := writeFile(e, p.output, b); err != nil {
		return err
	}
	if p.output != "" {
		fmt.Fprintf(e.stderr, "ppc explain: wrote %s\n", p.output)
	}
	return p.anomaly.gate(e, "explain", in.Anomalies)
}
