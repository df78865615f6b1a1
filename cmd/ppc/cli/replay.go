package cli

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/policypilot/ppc/compiler/lower"
	"github.com/policypilot/ppc/internal/app"
	"github.com/policypilot/ppc/reports/replayreport"
)

// replaySource are the inputs of a replay: flows, policies and the
// agent settings (shared by replay and explain).
type replaySource struct {
	readFlags
	flows           []string
	policyNamespace string
	agent           agentFlags
}

func (r *replaySource) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&r.flows, "flows", nil, "flow file, directory or - (repeatable; required unless --hubble-server)")
	r.readFlags.register(fs, "replay")
	fs.StringVar(&r.policyNamespace, "policy-namespace", "default", "namespace of CiliumNetworkPolicies that name none (as kubectl apply -n)")
	r.agent.register(fs)
}

type replayParams struct {
	src     replaySource
	expect  string
	probe   bool
	format  string
	verbose bool
	top     int
}

func init() {
	register(&command{
		name:  "replay",
		usage: "--flows FLOWS [--flows FLOWS...] [flags] POLICY_PATH|- ...",
		short: "replay Hubble flows through Cilium's policy engine loaded with policies",
		long: `Loads CiliumNetworkPolicies, CiliumClusterwideNetworkPolicies and Kubernetes
NetworkPolicies (translated as the agent does: pkg/k8s ParseNetworkPolicy; files,
directories, "-") into Cilium's own policy engine as the agent does, and
replays every connection attempt in the flow files (any form ppc compile
reads; flows the cluster dropped by policy are attempts too): the verdict at
the source's egress and at the destination's ingress, the policies and rules
that decided, and "allowed at L4, the proxy decides" with the L7 rules that
apply. Identities are built as the agent builds them (cluster label,
scope-correct numeric IDs, longest-prefix CIDR identities, fqdn: labels from
the DNS names the flows carry).

Policies the API server or the agent would reject are reported and not
loaded: the cluster would not enforce them either.

The summary counts flows considered, allowed and denied, skipped records by
reason, and per policy the flows it allowed; a policy or rule no flow
exercised is listed (over-permission to review). --probe replays the
unobserved (source, destination, protocol, port) combinations over the
observed endpoints and ports and reports how many the policies allow (the
over-allow ratio).

Exit status: 0 every flow met --expect, 1 some did not (or a policy is
invalid), 2 usage error or unreadable input.`,
		setup: func(fs *pflag.FlagSet) func(context.Context, app.IO, []string) error {
			p := &replayParams{}
			p.src.register(fs)
			fs.StringVar(&p.expect, "expect", "allowed", "what every flow must be: allowed (observed traffic) or denied (e.g. attack traffic)")
			fs.BoolVar(&p.probe, "probe", false, "least-privilege probe: how many unobserved connections the policies allow")
			fs.IntVar(&p.top, "top", 5, "with --probe, how many policies (and examples of each) to list")
			fs.StringVarP(&p.format, "output", "o", "text", "output format: text, json or junit")
			fs.BoolVarP(&p.verbose, "verbose", "v", false, "list every connection, not only those that failed --expect")
			return func(ctx context.Context, o app.IO, args []string) error { return runReplay(ctx, o, p, args) }
		},
	})
}

// replayed validates the flags and arguments of a command that replays
// the policies args over the flows (cmd: replay or explain) and returns
// the flows.
func (r *replaySource) replayed(o app.IO, cmd string, policies []string) (*app.Flows, error) {
	r.hubble.defaultServer(r.flows)
	if len(r.flows) == 0 && r.hubble.server == "" {
		return nil, usageErr("no flows: give --flows FILE or --hubble-server ADDR (usage: ppc %s --flows FLOWS POLICY_PATH...)", cmd)
	}
	if len(policies) == 0 {
		return nil, usageErr("no policies: give policy files, directories or - (usage: ppc %s --flows FLOWS POLICY_PATH...)", cmd)
	}
	stdinUsers := 0
	for _, a := range append(append([]string(nil), r.flows...), policies...) {
		if a == "-" {
			stdinUsers++
		}
	}
	if stdinUsers > 1 {
		return nil, usageErr("only one of --flows and the policies can be - (stdin)")
	}
	return r.source(o)
}

// source returns the flows the flags name.
func (r *replaySource) source(o app.IO) (*app.Flows, error) {
	learn, err := r.learnOptions(o, lower.Options{})
	if err != nil {
		return nil, err
	}
	settings, err := r.agent.settings()
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return &app.Flows{Paths: r.flows, Learn: learn, Agent: settings, InferCluster: !r.agent.clusterSet(), PolicyNamespace: r.policyNamespace}, nil
}

func runReplay(ctx context.Context, o app.IO, p *replayParams, args []string) error {
	if p.expect != "allowed" && p.expect != "denied" {
		return usageErr("--expect %q: want allowed or denied", p.expect)
	}
	if err := replayreport.Formats.Check(p.format); err != nil {
		return usageErr("%v", err)
	}
	src, err := p.src.replayed(o, "replay", args)
	if err != nil {
		return err
	}
	r := &app.Replay{Flows: *src, Policies: args, ExpectDenied: p.expect == "denied", Probe: p.probe, Top: p.top, Format: p.format, Verbose: p.verbose}
	return r.Run(ctx, o)
}
