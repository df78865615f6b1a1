package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/verify"
	"github.com/policypilot/ppc/lint"
	"github.com/policypilot/ppc/reports"
	"github.com/policypilot/ppc/reports/lintreport"
	"github.com/policypilot/ppc/reports/progress"
	"github.com/policypilot/ppc/rules"
	"github.com/policypilot/ppc/schemas"
)

type lintParams struct {
	bound     boundFlags
	rules     []string
	noDefault bool
	format    string
	failOn    string
	namespace string
	schemas   []string
	agent     agentFlags
	flows     []string
}

func init() {
	register(&command{
		name:  "lint",
		usage: "[flags] POLICY_PATH|- ...",
		short: "gate CiliumNetworkPolicies in CI with lint packs (default: Cilium best practices)",
		long: `Lints every CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and
Kubernetes NetworkPolicy in the
given files, directories or stdin: first the verification layers of
'ppc verify' (their errors are deny findings: verify-schema, verify-agent,
verify-org), then the lint packs — the embedded pack of Cilium best practices
(ppc rules list shows its rules, each with id, severity and rationale) and
the packs given with --rules (directories or OPA bundle tarballs).

A lint pack is Rego in the style of Conftest: packages under ppc.lint with
deny, warn or violation rules that produce a message or an object
{msg, path, id, ...}; the package's METADATA gives the rule's id, title,
rationale and severity. Exceptions: the policy annotation
lint.ppc.policypilot.io/<rule id>: "<reason>", or lint.exceptions in a pack's
config.yaml (rule, policies globs, reason). Excepted findings are reported
but do not fail.

Outputs: text (colour only on a terminal), json, sarif (2.1.0, for GitHub
code scanning), junit, tap, github (workflow annotations).

Exit status: 0 no finding at the --fail-on level, 1 findings, 2 usage or
input error, no policy found or no lint rule loaded.`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			p := &lintParams{}
			fs.StringArrayVar(&p.rules, "rules", nil, "add the lint pack in `DIR` or bundle .tar.gz (repeatable)")
			fs.BoolVar(&p.noDefault, "no-default", false, "leave out the embedded Cilium best-practice pack")
			p.bound.register(fs, "the lint rules on one policy")
			fs.StringVarP(&p.format, "output", "o", "text", "output format: "+strings.Join(lintreport.Formats.Names(), ", "))
			fs.StringVar(&p.failOn, "fail-on", "deny", "lowest severity that fails: deny or warn")
			fs.StringVarP(&p.namespace, "namespace", "n", "default", "namespace of objects that name none (as kubectl apply -n)")
			fs.StringArrayVar(&p.schemas, "schemas", nil, "also check policies against the CUE #Policy in `DIR` (repeatable)")
			fs.StringArrayVar(&p.flows, "flows", nil, "judge each workload seen in these flows (or IR snapshots) with every policy that selects it, matched by Cilium (repeatable; default: from the selectors)")
			p.agent.register(fs)
			p.agent.fs = fs
			return func(ctx context.Context, e *env, args []string) error { return runLint(ctx, e, p, args) }
		},
	})
}

func runLint(ctx context.Context, e *env, p *lintParams, args []string) error {
	if len(args) == 0 {
		return usageErr("no input: give policy files, directories or - for stdin (usage: ppc lint POLICY_PATH...)")
	}
	if err := lintreport.Formats.Check(p.format); err != nil {
		return usageErr("%v", err)
	}
	if p.failOn != "deny" && p.failOn != "warn" {
		return usageErr("--fail-on %q: want deny or warn", p.failOn)
	}
	settings, err := p.agent.settings()
	if err != nil {
		return usageErr("%v", err)
	}
	packs, err := rules.LoadDirs(p.rules)
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	org, err := schemas.LoadOrgs(p.schemas)
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	v, err := verify.New(verify.Options{Agent: settings, Org: org})
	if err != nil {
		return err
	}
	bounds, err := p.bound.bounds()
	if err != nil {
		return err
	}
	opts := lint.Options{Packs: packs, NoDefault: p.noDefault, Verifier: v, Namespace: p.namespace, Timeout: bounds.Timeout, Memory: bounds.Memory}
	g, flowSettings, err := learnGraph(ctx, e, p.flows, settings, &p.agent)
	if err != nil {
		return err
	}
	if g != nil {
		opts.Select = func(rs []verify.Result) (*lint.View, error) { return compiler.LintView(g, rs, flowSettings) }
	}
	l, err := lint.New(ctx, opts)
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	objs, inputErrs, files, err := readManifests(e, args)
	if err != nil {
		return err
	}
	rep, err := l.Lint(ctx, objs)
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	rep.Files = files
	// A document that cannot be read is a finding on its file; the rest
	// of the set is still verified, linted and reported.
	rep.Findings = append(lint.ReadFindings(inputErrs), rep.Findings...)
	if rep.Policies == 0 && len(inputErrs) == 0 {
		return &exitError{code: exitFailure, err: fmt.Errorf("no CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy found in %d files", files)}
	}
	if err := lintreport.Formats.Write(e.stdout, p.format, rep, reports.Options{Color: wantsColour(e), Cwd: e.cwd, Version: Version}); err != nil {
		return err
	}
	failing := rep.Count(lint.Deny)
	if p.failOn == "warn" {
		failing += rep.Count(lint.Warn)
	}
	if failing > 0 {
		return &exitError{code: exitFailed, printed: true}
	}
	return nil
}

// wantsColour reports whether stdout is a terminal that wants colour.
func wantsColour(e *env) bool {
	return os.Getenv("NO_COLOR") == "" && progress.IsTerminal(e.stdout)
}
