package cli

import (
	"context"
	"strings"

	"github.com/spf13/pflag"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/internal/app"
	"github.com/policypilot/ppc/reports/reachreport"
)

type reachParams struct {
	flows           []string
	focus           string
	exposure        bool
	format          string
	policyNamespace string
	agent           agentFlags
}

func init() {
	register(&command{
		name:  "reach",
		usage: "[--flows FLOWS] [flags] POLICY_PATH|- ...",
		short: "who may reach whom, on which ports, under these policies",
		long: `Loads the policies into Cilium's own policy engine as replay does and
decides, for every pair of workloads seen in the flows, which of the ports
the destination was seen serving the source may reach — observed or not —
and with --exposure which of them world and other namespaces reach. Pairs
allowed on no port are left out; a pair the flows never show is what the
policies allow beyond the traffic. Without --flows, the workloads are the
pods the policies select by labels, on the ports their ingress rules name.

Outputs: text, csv, json, md (Markdown for a pull request) and mermaid.`,
		setup: func(fs *pflag.FlagSet) func(context.Context, app.IO, []string) error {
			p := &reachParams{}
			fs.StringArrayVar(&p.flows, "flows", nil, "flows or IR snapshots: the workloads and the ports they serve (repeatable; default: from the policies' selectors)")
			fs.StringVar(&p.focus, "focus", "", "only pairs with the workload `NAMESPACE/NAME` at either end")
			fs.BoolVar(&p.exposure, "exposure", false, "also list the services world reaches")
			fs.StringVarP(&p.format, "output", "o", "text", "output format: "+strings.Join(reachreport.Formats.Names(), ", "))
			fs.StringVar(&p.policyNamespace, "policy-namespace", "default", "namespace of CiliumNetworkPolicies that name none (as kubectl apply -n)")
			p.agent.register(fs)
			return func(ctx context.Context, o app.IO, args []string) error { return runReach(ctx, o, p, args) }
		},
	})
}

func runReach(ctx context.Context, o app.IO, p *reachParams, args []string) error {
	if len(args) == 0 {
		return usageErr("no policies: give policy files, directories or - (usage: ppc reach [--flows FLOWS] POLICY_PATH...)")
	}
	if err := reachreport.Formats.Check(p.format); err != nil {
		return usageErr("%v", err)
	}
	settings, err := p.agent.settings()
	if err != nil {
		return usageErr("%v", err)
	}
	r := &app.Reach{Policies: app.Policies{Paths: args, Namespace: p.policyNamespace, Agent: settings, InferCluster: !p.agent.clusterSet()},
		Flows: p.flows, Options: compiler.ReachOptions{Focus: p.focus, Exposure: p.exposure}, Format: p.format}
	return r.Run(ctx, o)
}
