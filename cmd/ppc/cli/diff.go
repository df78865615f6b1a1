package cli

import (
	"context"
	"strings"

	"github.com/spf13/pflag"

	"github.com/policypilot/ppc/internal/app"
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
		setup: func(fs *pflag.FlagSet) func(context.Context, app.IO, []string) error {
			p := &diffParams{}
			p.src.register(fs)
			fs.StringVarP(&p.format, "output", "o", "text", "output format: "+strings.Join(diffreport.Formats.Names(), ", "))
			return func(ctx context.Context, o app.IO, args []string) error { return runDiff(ctx, o, p, args) }
		},
	})
}

func runDiff(ctx context.Context, o app.IO, p *diffParams, args []string) error {
	if len(args) != 2 {
		return usageErr("want two policy sets (usage: ppc diff OLD NEW)")
	}
	if err := diffreport.Formats.Check(p.format); err != nil {
		return usageErr("%v", err)
	}
	if args[0] == "-" && args[1] == "-" {
		return usageErr("only one of OLD and NEW can be - (stdin)")
	}
	d := &app.Diff{Old: args[0], New: args[1], Format: p.format}
	p.src.hubble.defaultServer(p.src.flows)
	if len(p.src.flows) > 0 || p.src.hubble.server != "" {
		var err error
		if d.Flows, err = p.src.source(o); err != nil {
			return err
		}
	}
	return d.Run(ctx, o)
}
