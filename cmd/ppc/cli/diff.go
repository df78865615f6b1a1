package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/compiler/policydiff"
	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/compiler/verify"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/reports"
	"github.com/policypilot/ppc/reports/diffreport"
)

type diffParams struct {
	src    replaySource
	format string
}

func init() {
	register(&command{
		name:  "diff",
		usage: "[flags] OLD NEW",
		short: "compare two policy sets by what they enforce (and, with --flows, by the verdicts they give)",
		long: `Compares two sets of CiliumNetworkPolicies, CiliumClusterwideNetworkPolicies
and Kubernetes NetworkPolicies:
files, directories, or a git revision and path as git names them
(main:policies/, HEAD~1:policies/shop.yaml). Per policy it reports what
was added, removed or changed, and per rule section the rules only one side
has. Rule order, key order, YAML style and metadata (annotations, labels)
do not count: Cilium ignores them.

With --flows (or --hubble-server), every observed connection attempt is
replayed through Cilium's policy engine loaded with each set, and the
connections whose verdict changes are listed: newly allowed (review: the
new set opens them) and newly denied (review: the new set breaks them).
Invalid policies are not loaded, as the cluster would not enforce them.

  ppc diff main:policies/ policies/
  ppc diff --flows flows.json old/ new/

Exit status: 0 the sets enforce the same, 1 they differ, 2 usage error or
unreadable input.`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			p := &diffParams{}
			p.src.register(fs)
			fs.StringVarP(&p.format, "output", "o", "text", "output format: "+strings.Join(diffreport.Formats.Names(), ", "))
			return func(ctx context.Context, e *env, args []string) error { return runDiff(ctx, e, p, args) }
		},
	})
}

func runDiff(ctx context.Context, e *env, p *diffParams, args []string) error {
	if len(args) != 2 {
		return usageErr("want two policy sets (usage: ppc diff OLD NEW)")
	}
	if err := diffreport.Formats.Check(p.format); err != nil {
		return usageErr("%v", err)
	}
	if args[0] == "-" && args[1] == "-" {
		return usageErr("only one of OLD and NEW can be - (stdin)")
	}
	sets := make([][]manifest.Object, 2)
	for i, a := range args {
		objs, err := readPolicySet(ctx, e, a)
		if err != nil {
			return err
		}
		sets[i] = objs
	}
	res, err := policydiff.Compare(sets[0], sets[1])
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	d := &diffreport.Diff{Old: args[0], New: args[1], Result: res}
	p.src.hubble.defaultServer(p.src.flows)
	if len(p.src.flows) > 0 || p.src.hubble.server != "" {
		learned, settings, err := p.src.learnAttempts(ctx, e)
		if err != nil {
			return err
		}
		v, err := verify.New(verify.Options{Agent: settings}) // built once: the CRD validator and CUE values serve both sets
		if err != nil {
			return err
		}
		reps := make([]*replay.Report, 2)
		probes := make([]*replay.ProbeReport, 2)
		for i, objs := range sets {
			if reps[i], probes[i], err = replaySet(ctx, e, v, learned.Graph, objs, settings, p.src.policyNamespace, args[i]); err != nil {
				return err
			}
		}
		d.ProbeOld, d.ProbeNew = probes[0], probes[1]
		res.CompareVerdicts(reps[0], reps[1])
		d.Names = learned.Graph.DisplayNames()
	}
	if err := diffreport.Formats.Write(e.stdout, p.format, d, reports.Options{Cwd: e.cwd}); err != nil {
		return err
	}
	if !res.Empty() {
		return &exitError{code: exitFailed, printed: true}
	}
	return nil
}

// readPolicySet reads one side of a diff: a file, a directory, - or a git
// REV:PATH. A document that cannot be read is an error: a diff that
// leaves part of a set out would report its policies as removed.
func readPolicySet(ctx context.Context, e *env, arg string) ([]manifest.Object, error) {
	objs, bad, err := manifest.ReadSet(ctx, arg, e.stdin)
	if err != nil {
		return nil, &exitError{code: exitFailure, err: err}
	}
	if len(bad) > 0 {
		reports.PrintDiagnostics(e.stderr, bad, e.cwd)
		return nil, &exitError{code: exitFailure, err: fmt.Errorf("%s: %d documents could not be read", arg, len(bad))}
	}
	return objs, nil
}

// replaySet verifies one set and replays g through Cilium's engine loaded
// with its valid policies.
func replaySet(ctx context.Context, e *env, v *verify.Verifier, g *ir.Graph, objs []manifest.Object, settings agent.Settings, ns, name string) (*replay.Report, *replay.ProbeReport, error) {
	pr, err := compiler.ReplayPolicies(ctx, v, g, objs, ns, settings, &replay.ProbeOptions{})
	if err != nil {
		return nil, nil, compileError(err)
	}
	if n := len(pr.Invalid); n > 0 {
		fmt.Fprintf(e.stderr, "warning: %s: %d invalid policies are not loaded (the cluster would not enforce them); ppc verify %s says why\n", name, n, name)
	}
	return pr.Report, pr.Probe, nil
}
