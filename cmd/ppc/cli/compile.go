package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

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
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			p := &compileParams{}
			fs.StringVarP(&p.output, "output", "o", "", "write one file per policy under `DIR` (default: a YAML stream on stdout)")
			fs.StringArrayVar(&p.rules, "rules", nil, "layer the rule pack in `DIR` over the default pack (repeatable; later wins)")
			fs.StringArrayVar(&p.set, "set", nil, "override a rule-pack setting, e.g. --set max_ports_per_rule=20 (repeatable)")
			fs.StringArrayVar(&p.schemas, "schemas", nil, "also check policies against the CUE #Policy in `DIR` (repeatable)")
			p.ingest.register(fs)
			p.agent.register(fs)
			p.agent.fs = fs
			fs.StringVar(&p.stopAfter, "stop-after", "", "stop after `STAGE`: "+stageNames())
			fs.StringVar(&p.dump, "dump", "", "print an intermediate result instead of policies: ir (canonical text) or decisions (JSON)")
			fs.BoolVar(&p.noReplay, "no-replay", false, "skip proving the policies with Cilium's policy engine")
			fs.BoolVar(&p.noProbe, "no-probe", false, "skip the least-privilege probe (the over-allow ratio)")
			fs.BoolVar(&p.lint, "lint", false, "gate the output with the default lint pack: deny findings fail the compile")
			fs.StringArrayVar(&p.lintRules, "lint-rules", nil, "also gate with the lint pack in `DIR` or bundle (repeatable; implies --lint)")
			fs.StringVar(&p.report, "report", "", "also write a review report to `FILE` (.html: self-contained page; .md: Markdown for a pull request)")
			fs.BoolVarP(&p.quiet, "quiet", "q", false, "print only warnings and errors")
			fs.BoolVar(&p.timings, "timings", false, "print how long each stage took")
			fs.BoolVar(&p.follow, "follow", false, "with --hubble-server and -o DIR: keep learning and recompile every --every, rewriting DIR only when the policies change")
			fs.DurationVar(&p.every, "every", 10*time.Minute, "with --follow: the time between recompiles")
			fs.BoolVar(&p.dryRun, "dry-run", false, "with -o DIR: print the files that would be written and removed, write nothing")
			p.bound.register(fs, "the rule packs")
			p.anomaly.register(fs)
			fs.StringVar(&p.base, "base", "", "start from the policies in `DIR` (and write back there): keep hand-written policies untouched, add rules for new traffic to ppc's own, print the diff")
			fs.DurationVar(&p.stale, "stale-after", 0, "with --base: mark rules of ppc's policies no flow used for longer than `DURATION` (annotation ppc.policypilot.io/stale-rules)")
			fs.BoolVar(&p.prune, "prune", false, "with --base and --stale-after: remove the stale rules instead of marking them")
			fs.StringVar(&p.target, "target", "cilium", "the kind of policy to write: cilium (CiliumNetworkPolicy), kubernetes (networking.k8s.io/v1 NetworkPolicy; what it cannot express is widened, with a warning per rule) or auto (NetworkPolicy where it loses nothing)")
			return func(ctx context.Context, e *env, args []string) error { return runCompile(ctx, e, p, args) }
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

func runCompile(ctx context.Context, e *env, p *compileParams, args []string) error {
	p.ingest.hubble.defaultServer(args)
	if len(args) == 0 && p.ingest.hubble.server == "" {
		return usageErr("no input: give flow files, IR snapshots, - for stdin, or --hubble-server ADDR (usage: ppc compile FLOWS...)")
	}
	learn, err := p.ingest.options(e)
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
	opts := compiler.Options{
		Learn: learn, Rules: p.rules, Set: p.set, Schemas: p.schemas,
		Agent: settings, NoReplay: p.noReplay, NoProbe: p.noProbe,
		InferCluster: !p.agent.clusterSet(), RuleTimeout: bounds.Timeout, RuleMemory: bounds.Memory,
		NoAnomalies: p.anomaly.none, Target: p.target,
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
		p.output = p.base
	}
	if opts.Baseline, err = p.anomaly.load(ctx, e); err != nil {
		return err
	}
	if p.stopAfter != "" {
		if opts.StopAfter, err = compiler.ParseStage(p.stopAfter); err != nil {
			return usageErr("--stop-after: %v", err)
		}
	}
	switch p.dump {
	case "":
	case "ir":
		opts.StopAfter = compiler.StageNormalize
	case "decisions":
		opts.StopAfter = compiler.StageDecide
	default:
		return usageErr("--dump %q: want ir or decisions", p.dump)
	}
	reportFmt := ""
	if p.report != "" {
		if reportFmt, err = explain.FormatOf(p.report, ""); err != nil {
			return usageErr("--report: %v", err)
		}
	}
	if p.lint || len(p.lintRules) > 0 {
		opts.Lint = &compiler.LintOptions{Packs: p.lintRules, Timeout: bounds.Timeout, Memory: bounds.Memory}
	}
	if p.follow {
		return compileFollow(ctx, e, p, args, opts)
	}
	prog := progress.Start(e.stderr, !p.quiet)
	opts.Learn.Progress, opts.Stage = prog.Records(), prog.StageFunc()
	res, err := compiler.Compile(ctx, args, opts)
	prog.Stop()
	reports.PrintDiagnostics(e.stderr, res.Diagnostics, e.cwd)
	if err != nil {
		return compileError(err)
	}
	if !p.quiet {
		reports.PrintCompileSummary(e.stderr, res)
	}
	if p.timings {
		reports.PrintTimings(e.stderr, res.Timings)
	}
	if res.Diagnostics.HasErrors() {
		fmt.Fprintf(e.stderr, "ppc compile: %d errors; nothing written\n", res.Diagnostics.Count(ir.Error))
		return &exitError{code: exitFailed, printed: true}
	}
	switch p.dump {
	case "ir":
		return ir.Format(e.stdout, res.Graph)
	case "decisions":
		return reports.WriteJSON(e.stdout, res.Decisions)
	}
	if opts.StopAfter != "" && opts.StopAfter != compiler.StageEmit && opts.StopAfter != compiler.StageLint {
		return nil
	}
	if err := lintGate(e, res); err != nil {
		return err
	}
	if err := p.anomaly.gate(e, "compile", res.Anomalies); err != nil {
		return err
	}
	if p.base != "" {
		if err := rebase(ctx, e, p, res); err != nil {
			return err
		}
	}
	// The report is rendered first and written last: a compile that
	// cannot write its policies writes no report either.
	var report []byte
	if p.report != "" {
		in, err := explain.FromCompile(res, "ppc policy report", args)
		if err == nil {
			in.Cwd = e.cwd
			report, err = explain.Render(in, reportFmt)
		}
		if err != nil {
			return err
		}
	}
	if p.output == "" {
		b, err := reports.Stream(res.Docs)
		if err == nil {
			_, err = e.stdout.Write(b)
		}
		if err != nil {
			return err
		}
	} else {
		wr, err := reports.WriteDir(p.output, res.Docs, reports.DirOptions{DryRun: p.dryRun})
		if err != nil {
			return &exitError{code: exitFailure, err: err}
		}
		for _, n := range wr.Notes {
			fmt.Fprintf(e.stderr, "note: %s\n", textsafe.Line(n))
		}
		if p.dryRun {
			reports.PrintDryRun(e.stdout, wr, e.cwd)
			return nil
		}
		if !p.quiet {
			reports.PrintWritten(e.stderr, wr, p.output, e.cwd)
		}
	}
	if report != nil {
		if err := writeFile(e, p.report, report); err != nil {
			return err
		}
		if !p.quiet && p.report != "-" {
			fmt.Fprintf(e.stderr, "ppc: report written to %s\n", p.report)
		}
	}
	return nil
}

// compileFollow is compile --follow: compiler.Follow learns from the
// Hubble server in rounds; after each, the whole graph is compiled (every
// check included) and the directory rewritten when the policies changed.
// A round whose policies fail a check leaves the directory as it was.
func compileFollow(ctx context.Context, e *env, p *compileParams, args []string, opts compiler.Options) error {
	switch {
	case p.ingest.hubble.server == "":
		return usageErr("--follow needs --hubble-server")
	case len(args) > 0:
		return usageErr("--follow reads only the Hubble server: give no files")
	case p.output == "":
		return usageErr("--follow needs -o DIR: the directory it keeps up to date")
	case p.every <= 0:
		return usageErr("--every must be positive")
	case p.report != "" || p.dump != "" || p.stopAfter != "" || p.dryRun:
		return usageErr("--follow writes policies only: --report, --dump, --stop-after and --dry-run do not apply")
	case p.ingest.hubble.first > 0 || p.ingest.hubble.last > 0 || p.ingest.hubble.until != "":
		return usageErr("--follow learns from --since (or everything the server holds) on: --first, --last and --until do not apply")
	}
	round := 0
	err := compiler.Follow(ctx, compiler.FollowOptions{
		Learn: opts.Learn, Every: p.every,
		Retry: func(err error, wait time.Duration) {
			fmt.Fprintln(e.stderr, reports.RetryWarning(err, wait))
		},
		Gap: func(g compiler.Gap) { fmt.Fprintln(e.stderr, reports.GapWarning(g)) },
	}, func(g *ir.Graph) error {
		if ctx.Err() != nil {
			return nil // Ctrl-C: the directory holds the last complete round
		}
		round++
		o := opts
		o.Learn, o.Graph = compiler.LearnOptions{}, g
		res, err := compiler.Compile(ctx, nil, o)
		reports.PrintDiagnostics(e.stderr, res.Diagnostics, e.cwd)
		if err != nil {
			return err
		}
		if res.Diagnostics.HasErrors() {
			fmt.Fprintf(e.stderr, "ppc compile: round %d: %d errors; %s left as it was\n", round, res.Diagnostics.Count(ir.Error), textsafe.Line(p.output))
			return nil
		}
		if err := lintGate(e, res); err != nil {
			fmt.Fprintf(e.stderr, "ppc compile: round %d: %v; %s left as it was\n", round, err, textsafe.Line(p.output))
			return nil
		}
		wr, err := reports.WriteDir(p.output, res.Docs, reports.DirOptions{})
		if err != nil {
			return err
		}
		reports.PrintRound(e.stderr, round, wr, g, p.quiet, e.cwd)
		return nil
	})
	if err != nil {
		return compileError(err)
	}
	if ctx.Err() != nil {
		return errStoppedCleanly
	}
	return nil
}

// lintGate prints the lint gate's findings (if it ran); deny findings
// fail the compile before anything is written.
func lintGate(e *env, res *compiler.Result) error {
	rep := res.Lint
	if rep == nil {
		return nil
	}
	if len(rep.Findings) > 0 {
		if err := lintreport.Formats.Write(e.stderr, "text", rep, reports.Options{}); err != nil {
			return err
		}
	}
	if n := rep.Count(lint.Deny); n > 0 {
		fmt.Fprintf(e.stderr, "ppc compile: %d lint deny findings; nothing written\n", n)
		return &exitError{code: exitFailed, printed: true}
	}
	return nil
}

// compileError maps an error of compiler.Compile to the exit status: bad
// input exits 2 with the error; anything else is an internal error.
func compileError(err error) error {
	var ie *compiler.InputError
	if errors.As(err, &ie) {
		return &exitError{code: exitFailure, err: err}
	}
	return err
}

// rebase is compile --base: the compiled policies merged into the base
// directory's (compiler.Rebase), the diff against the base printed.
func rebase(ctx context.Context, e *env, p *compileParams, res *compiler.Result) error {
	base, bad, _, err := manifest.ReadPaths([]string{p.base}, e.stdin)
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	if bad.HasErrors() {
		reports.PrintDiagnostics(e.stderr, bad, e.cwd)
		return &exitError{code: exitFailure, err: fmt.Errorf("--base %s: unreadable policies", p.base)}
	}
	rb, err := compiler.Rebase(ctx, res, base, compiler.RebaseOptions{StaleAfter: p.stale, Prune: p.prune, Agent: res.Agent, Namespace: "default"})
	if err != nil {
		return compileError(err)
	}
	for _, n := range rb.Notes {
		fmt.Fprintf(e.stderr, "note: %s\n", textsafe.Line(n))
	}
	if !p.quiet {
		reports.PrintRebase(e.stderr, rb, p.base)
		if err := diffreport.Formats.Write(e.stderr, "text", &diffreport.Diff{Old: p.base, New: "this compile", Result: rb.Diff}, reports.Options{Cwd: e.cwd}); err != nil {
			return err
		}
	}
	res.Docs = rb.Docs
	return nil
}
