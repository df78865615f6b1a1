package cli

import (
	"context"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/policypilot/ppc/internal/app"
	"github.com/policypilot/ppc/reports/lintreport"
	"github.com/policypilot/ppc/reports/progress"
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
		setup: func(fs *pflag.FlagSet) func(context.Context, app.IO, []string) error {
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
			return func(ctx context.Context, o app.IO, args []string) error { return runLint(ctx, o, p, args) }
		},
	})
}

func runLint(ctx context.Context, o app.IO, p *lintParams, args []string) error {
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
	bounds, err := p.bound.bounds()
	if err != nil {
		return err
	}
	l := &app.Lint{Policies: args, Packs: p.rules, NoDefault: p.noDefault, Bounds: bounds, Agent: settings, InferCluster: !p.agent.clusterSet(),
		Schemas: p.schemas, Namespace: p.namespace, Flows: p.flows, Format: p.format, WarnFails: p.failOn == "warn",
		Color: os.Getenv("NO_COLOR") == "" && progress.IsTerminal(o.Stdout), Version: Version}
	return l.Run(ctx, o)
}
