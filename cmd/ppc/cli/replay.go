package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/lower"
	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/compiler/verify"
	"github.com/policypilot/ppc/reports"
	"github.com/policypilot/ppc/reports/replayreport"
	"github.com/policypilot/ppc/reports/verifyreport"
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
	r.agent.fs = fs
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
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			p := &replayParams{}
			p.src.register(fs)
			fs.StringVar(&p.expect, "expect", "allowed", "what every flow must be: allowed (observed traffic) or denied (e.g. attack traffic)")
			fs.BoolVar(&p.probe, "probe", false, "least-privilege probe: how many unobserved connections the policies allow")
			fs.IntVar(&p.top, "top", 5, "with --probe, how many policies (and examples of each) to list")
			fs.StringVarP(&p.format, "output", "o", "text", "output format: text, json or junit")
			fs.BoolVarP(&p.verbose, "verbose", "v", false, "list every connection, not only those that failed --expect")
			return func(ctx context.Context, e *env, args []string) error { return runReplay(ctx, e, p, args) }
		},
	})
}

// replayRun is what a replay produced (replayreport.Run) and the
// policies it verified.
type replayRun struct {
	replayreport.Run
	replay   *compiler.PolicyReplay
	settings agent.Settings // the agent settings replayed under
}

// learnAttempts learns the flows (compiler.LearnAttempts) and prints what
// the reader reported.
func (r *replaySource) learnAttempts(ctx context.Context, e *env) (*compiler.Result, agent.Settings, error) {
	learn, err := r.learnOptions(e, lower.Options{})
	if err != nil {
		return nil, agent.Settings{}, err
	}
	settings, err := r.agent.settings()
	if err != nil {
		return nil, agent.Settings{}, usageErr("%v", err)
	}
	res, settings, err := compiler.LearnAttempts(ctx, r.flows, learn, settings, !r.agent.clusterSet())
	reports.PrintDiagnostics(e.stderr, res.Diagnostics, e.cwd)
	if err == nil && res.Diagnostics.HasErrors() {
		err = &exitError{code: exitFailure, printed: true}
	} else if err != nil && res.Graph != nil && len(res.Graph.Edges) == 0 {
		reports.PrintSkipped(e.stderr, res.Graph.Stats.Skipped)
	}
	return res, settings, compileError(err)
}

// run learns the flows, verifies the policies and replays the flows
// through Cilium's engine loaded with the valid ones
// (compiler.ReplayPolicies: invalid ones are kept aside, as the cluster
// would not enforce them) and, with probe, probes for over-permission.
func (r *replaySource) run(ctx context.Context, e *env, args []string, cmd string, probe bool, top int) (*replayRun, *compiler.Result, error) {
	r.hubble.defaultServer(r.flows)
	if len(r.flows) == 0 && r.hubble.server == "" {
		return nil, nil, usageErr("no flows: give --flows FILE or --hubble-server ADDR (usage: ppc %s --flows FLOWS POLICY_PATH...)", cmd)
	}
	if len(args) == 0 {
		return nil, nil, usageErr("no policies: give policy files, directories or - (usage: ppc %s --flows FLOWS POLICY_PATH...)", cmd)
	}
	stdinUsers := 0
	for _, a := range append(append([]string(nil), r.flows...), args...) {
		if a == "-" {
			stdinUsers++
		}
	}
	if stdinUsers > 1 {
		return nil, nil, usageErr("only one of --flows and the policies can be - (stdin)")
	}
	res, settings, err := r.learnAttempts(ctx, e)
	if err != nil {
		return nil, nil, err
	}
	objs, inputErrs, files, err := readManifests(e, args)
	if err != nil {
		return nil, nil, err
	}
	reports.PrintDiagnostics(e.stderr, inputErrs, e.cwd)
	if len(inputErrs) > 0 {
		return nil, nil, &exitError{code: exitFailure, err: fmt.Errorf("%d policy documents could not be read", len(inputErrs))}
	}
	var po *replay.ProbeOptions
	if probe {
		po = &replay.ProbeOptions{Examples: top}
	}
	pr, err := compiler.ReplayPolicies(ctx, nil, res.Graph, objs, r.policyNamespace, settings, po)
	if pr != nil {
		reports.PrintDiagnostics(e.stderr, pr.Warnings, e.cwd)
	}
	if err == nil && len(pr.Verified) == 0 {
		err = &compiler.InputError{Err: fmt.Errorf("no CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy found in %d files", files)}
	}
	if err != nil {
		return nil, nil, compileError(err)
	}
	run := &replayRun{replay: pr, settings: settings, Run: replayreport.Run{Graph: res.Graph, Files: files, Records: res.Graph.Stats.Records,
		FlowFiles: res.Summary.Files, Cluster: settings.ClusterName, Report: pr.Report, Probe: pr.Probe, Invalid: pr.Invalid, Loaded: pr.Loaded}}
	if len(pr.Clusters) > 1 {
		run.Cluster = strings.Join(pr.Clusters, ", ")
	}
	return run, res, nil
}

func runReplay(ctx context.Context, e *env, p *replayParams, args []string) error {
	if p.expect != "allowed" && p.expect != "denied" {
		return usageErr("--expect %q: want allowed or denied", p.expect)
	}
	if err := replayreport.Formats.Check(p.format); err != nil {
		return usageErr("%v", err)
	}
	run, _, err := p.src.run(ctx, e, args, "replay", p.probe, p.top)
	if err != nil {
		return err
	}
	run.Expect, run.Top = p.expect, p.top
	run.Failures = run.Report.Failing(p.expect == "allowed")
	for _, x := range run.Report.Results {
		for _, q := range replay.Requests(x) {
			run.Requests++
			if q.Decision == replay.RequestDenied && p.expect == "allowed" {
				run.Refused = append(run.Refused, q)
			}
		}
	}
	if p.format == "text" {
		for _, r := range run.Invalid {
			verifyreport.List(e.stderr, &verify.Report{Results: []verify.Result{r}}, false, e.cwd)
		}
	}
	if err := replayreport.Formats.Write(e.stdout, p.format, &run.Run, reports.Options{Cwd: e.cwd, Verbose: p.verbose}); err != nil {
		return err
	}
	if p.format == "text" {
		replayreport.Summary(e.stderr, &run.Run)
	}
	if len(run.Failures) > 0 || len(run.Invalid) > 0 || len(run.Refused) > 0 {
		return &exitError{code: exitFailed, printed: true}
	}
	return nil
}
