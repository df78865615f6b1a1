package cli

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/internal/app"
	"github.com/policypilot/ppc/reports/explain"
)

type compileParams struct {
	bound     boundFlags
	ingest    ingestFlags
	agent     agentFlags
	output    string
	rules     []string
	set       []string
	schemas   []string
	stopAfter string
	dump      string
	noReplay  bool
	noProbe   bool
	report    string
	lint      bool
	lintRules []string
	quiet     bool
	timings   bool
	dryRun    bool
	follow    bool
	every     time.Duration
	anomaly   anomalyFlags
	target    string
	base      string
	stale     time.Duration
	prune     bool
}

func init() {
	register(&command{
		name:  "compile",
		usage: "[flags] FLOWS|IR|- ...",
		short: "compile Hubble flows (or IR snapshots) into verified CiliumNetworkPolicies",
		long: `Reads Hubble flows in any form Hubble writes (hubble observe -o json|jsonpb,
exporter files, rotated or gzipped; NDJSON, arrays, pretty objects; "-" is
stdin; a directory stands for its files) and IR snapshots written by
'ppc learn', lowers them into the graph IR, lets the rule packs decide the
policies, and writes CiliumNetworkPolicy YAML that passed the API server's CRD
validation, the Cilium agent's parser and ppc's CUE schemas, and that
Cilium's policy engine proves allows every observed connection.

Without -o the policies are written to stdout as one multi-document YAML
stream; with -o DIR each goes to DIR/<namespace>/<name>.yaml. Nothing is
written unless every check passed.`,
		setup: func(fs *pflag.FlagSet) func(context.Context, app.IO, []string) error {
			p := &compileParams{}
			fs.StringVarP(&p.output, "output", "o", "", "write one file per policy under `DIR` (default: a YAML stream on stdout)")
			fs.StringArrayVar(&p.rules, "rules", nil, "layer the rule pack in `DIR` over the default pack (repeatable; later wins)")
			fs.StringArrayVar(&p.set, "set", nil, "override a rule-pack setting, e.g. --set max_ports_per_rule=20 (repeatable)")
			fs.StringArrayVar(&p.schemas, "schemas", nil, "also check policies against the CUE #Policy in `DIR` (repeatable)")
			p.ingest.register(fs)
			p.agent.register(fs)
			fs.StringVar(&p.stopAfter, "stop-after", "", "stop after `STAGE`: "+stageNames())
			fs.StringVar(&p.dump, "dump", "", "print an intermediate result instead of policies: ir (canonical text) or decisions (JSON)")
			fs.BoolVar(&p.noReplay, "no-replay", false, "skip proving the policies with Cilium's policy engine")
			fs.BoolVar(&p.noProbe, "no-probe", false, "skip the least-privilege probe (the over-allow ratio)")
			fs.BoolVar(&p.lint, "lint", false, "gate the output with the default lint pack: deny findings fail the compile")
			fs.StringArrayVar(&p.lintRules, "lint-rules", nil, "also gate with the lint pack in `DIR` or bundle (repeatable; implies --lint)")
			fs.StringVar(&p.report, "report", "", "also write a review report to `FILE` (.html: self-contained page; .md: Markdown for a pull request)")
			fs.BoolVarP(&p.quiet, "quiet", "q", false, "print only warnings and errors")
			fs.BoolVar(&p.timings, "timings", false, "print how long each stage took, and the write after them")
			fs.BoolVar(&p.follow, "follow", false, "with --hubble-server and -o DIR: keep learning and recompile every --every, rewriting DIR only when the policies change")
			fs.DurationVar(&p.every, "every", 10*time.Minute, "with --follow: the time between recompiles")
			fs.BoolVar(&p.dryRun, "dry-run", false, "with -o DIR: print the files that would be written and removed, write nothing")
			p.bound.register(fs, "the rule packs")
			p.anomaly.register(fs)
			fs.StringVar(&p.base, "base", "", "start from the policies in `DIR` (and write back there): keep hand-written policies untouched, add rules for new traffic to ppc's own, print the diff")
			fs.DurationVar(&p.stale, "stale-after", 0, "with --base: mark rules of ppc's policies no flow used for longer than `DURATION` (annotation ppc.policypilot.io/stale-rules)")
			fs.BoolVar(&p.prune, "prune", false, "with --base and --stale-after: remove the stale rules instead of marking them")
			fs.StringVar(&p.target, "target", "cilium", "the kind of policy to write: cilium (CiliumNetworkPolicy), kubernetes (networking.k8s.io/v1 NetworkPolicy; what it cannot express is widened, with a warning per rule) or auto (NetworkPolicy where it loses nothing)")
			return func(ctx context.Context, o app.IO, args []string) error { return runCompile(ctx, o, p, args) }
		},
	})
}

func stageNames() string {
	var s []string
	for _, id := range compiler.AllStages() {
		s = append(s, string(id))
	}
	return strings.Join(s, ", ")
}

func runCompile(ctx context.Context, o app.IO, p *compileParams, args []string) error {
	p.ingest.hubble.defaultServer(args)
	if len(args) == 0 && p.ingest.hubble.server == "" {
		return usageErr("no input: give flow files, IR snapshots, - for stdin, or --hubble-server ADDR (usage: ppc compile FLOWS...)")
	}
	learn, err := p.ingest.options(o)
	if err != nil {
		return err
	}
	settings, err := p.agent.settings()
	if err != nil {
		return usageErr("%v", err)
	}
	bounds, err := p.bound.bounds()
	if err != nil {
		return err
	}
	if err := p.anomaly.check(); err != nil {
		return err
	}
	c := &app.Compile{
		Inputs: args, Output: p.output, DryRun: p.dryRun, Report: p.report, Dump: p.dump,
		Quiet: p.quiet, Timings: p.timings, Anomaly: p.anomaly.gate(),
		Base: p.base, StaleAfter: p.stale, Prune: p.prune,
		Options: compiler.Options{
			Learn: learn, Rules: p.rules, Set: p.set, Schemas: p.schemas,
			Agent: settings, NoReplay: p.noReplay, NoProbe: p.noProbe,
			InferCluster: !p.agent.clusterSet(), RuleTimeout: bounds.Timeout, RuleMemory: bounds.Memory,
			NoAnomalies: p.anomaly.none, Target: p.target,
		},
	}
	switch p.target {
	case "cilium", "kubernetes", "auto":
	default:
		return usageErr("--target %q: want cilium, kubernetes or auto", p.target)
	}
	switch {
	case p.base == "" && (p.stale != 0 || p.prune):
		return usageErr("--stale-after and --prune need --base DIR")
	case p.prune && p.stale <= 0:
		return usageErr("--prune removes the rules --stale-after finds stale: give --stale-after")
	case p.base != "" && p.target != "cilium":
		return usageErr("--base updates CiliumNetworkPolicies: give no --target")
	case p.base != "" && p.output != "" && p.output != p.base:
		return usageErr("--base DIR writes back to DIR: give no -o, or -o DIR")
	case p.base != "":
		c.Output = p.base
	}
	if c.Options.Baseline, err = p.anomaly.load(ctx, o); err != nil {
		return err
	}
	if p.stopAfter != "" {
		if c.Options.StopAfter, err = compiler.ParseStage(p.stopAfter); err != nil {
			return usageErr("--stop-after: %v", err)
		}
	}
	switch p.dump {
	case "":
	case "ir":
		c.Options.StopAfter = compiler.StageNormalize
	case "decisions":
		c.Options.StopAfter = compiler.StageDecide
	default:
		return usageErr("--dump %q: want ir or decisions", p.dump)
	}
	if p.report != "" {
		if c.ReportFormat, err = explain.FormatOf(p.report, ""); err != nil {
			return usageErr("--report: %v", err)
		}
	}
	if p.lint || len(p.lintRules) > 0 {
		c.Options.Lint = &compiler.LintOptions{Packs: p.lintRules, Timeout: bounds.Timeout, Memory: bounds.Memory}
	}
	if p.follow {
		h := p.ingest.hubble
		switch {
		case h.server == "":
			return usageErr("--follow needs --hubble-server")
		case len(args) > 0:
			return usageErr("--follow reads only the Hubble server: give no files")
		case c.Output == "":
			return usageErr("--follow needs -o DIR: the directory it keeps up to date")
		case p.every <= 0:
			return usageErr("--every must be positive")
		case p.report != "" || p.dump != "" || p.stopAfter != "" || p.dryRun:
			return usageErr("--follow writes policies only: --report, --dump, --stop-after and --dry-run do not apply")
		case h.first > 0 || h.last > 0 || h.until != "":
			return usageErr("--follow learns from --since (or everything the server holds) on: --first, --last and --until do not apply")
		}
		c.Every = p.every
	}
	return c.Run(ctx, o)
}
