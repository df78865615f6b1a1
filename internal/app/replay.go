package app

import (
	"context"
	"strings"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/compiler/verify"
	"github.com/policypilot/ppc/reports"
	"github.com/policypilot/ppc/reports/replayreport"
	"github.com/policypilot/ppc/reports/verifyreport"
)

// Flows are the flows a command replays policies over (replay, explain,
// diff): every connection attempt in them, dropped ones included.
type Flows struct {
	Paths []string              // flow files, IR snapshots, directories, "-"
	Learn compiler.LearnOptions // the reader's bounds and filters, and the Hubble server
	Agent agent.Settings
	// InferCluster takes the cluster name from the flows' cluster labels
	// (no --cluster-name given).
	InferCluster bool
	// PolicyNamespace is the namespace of policies that name none.
	PolicyNamespace string
}

// LearnAttempts learns the flows (compiler.LearnAttempts) and prints
// what the reader reported; it returns the agent settings to replay
// under.
func (f *Flows) LearnAttempts(ctx context.Context, o IO) (*compiler.Result, agent.Settings, error) {
	res, settings, err := compiler.LearnAttempts(ctx, f.Paths, f.Learn, f.Agent, f.InferCluster)
	reports.PrintDiagnostics(o.Stderr, res.Diagnostics, o.Cwd)
	if err == nil && res.Diagnostics.HasErrors() {
		err = ErrReported
	} else if err != nil && res.Graph != nil && len(res.Graph.Edges) == 0 {
		reports.PrintSkipped(o.Stderr, res.Graph.Stats.Skipped)
	}
	return res, settings, err
}

// Replayed is what a replay produced (replayreport.Run), the policies
// it verified and the flows it learned.
type Replayed struct {
	replayreport.Run
	Replay   *compiler.PolicyReplay
	Settings agent.Settings // the agent settings replayed under
	Learned  *compiler.Result
}

// Replay learns the flows, verifies the policies and replays the flows
// through Cilium's engine loaded with the valid ones
// (compiler.ReplayPolicies: invalid ones are kept aside, as the cluster
// would not enforce them) and, with probe, probes for over-permission.
func (f *Flows) Replay(ctx context.Context, o IO, policies []string, probe *replay.ProbeOptions) (*Replayed, error) {
	res, settings, err := f.LearnAttempts(ctx, o)
	if err != nil {
		return nil, err
	}
	objs, files, err := readPolicies(o, policies)
	if err != nil {
		return nil, err
	}
	pr, err := compiler.ReplayPolicies(ctx, nil, res.Graph, objs, f.PolicyNamespace, settings, probe)
	if pr != nil {
		reports.PrintDiagnostics(o.Stderr, pr.Warnings, o.Cwd)
	}
	if err == nil && len(pr.Verified) == 0 {
		err = noPolicy(files)
	}
	if err != nil {
		return nil, err
	}
	run := &Replayed{Replay: pr, Settings: settings, Learned: res, Run: replayreport.Run{Graph: res.Graph, Files: files, Records: res.Graph.Stats.Records,
		FlowFiles: res.Summary.Files, Cluster: settings.ClusterName, Report: pr.Report, Probe: pr.Probe, Invalid: pr.Invalid, Loaded: pr.Loaded}}
	if len(pr.Clusters) > 1 {
		run.Cluster = strings.Join(pr.Clusters, ", ")
	}
	return run, nil
}

// Replay is what ppc replay is asked to do.
type Replay struct {
	Flows    Flows
	Policies []string
	// ExpectDenied says every flow must be denied (attack traffic);
	// otherwise every flow must be allowed.
	ExpectDenied bool
	Probe        bool
	Top          int    // with Probe: how many policies and examples to list
	Format       string // replayreport.Formats
	Verbose      bool
}

// Run replays and writes the report; a flow that does not meet the
// expectation, or an invalid policy, is ErrFailed.
func (r *Replay) Run(ctx context.Context, o IO) error {
	var po *replay.ProbeOptions
	if r.Probe {
		po = &replay.ProbeOptions{Examples: r.Top}
	}
	run, err := r.Flows.Replay(ctx, o, r.Policies, po)
	if err != nil {
		return err
	}
	run.Expect, run.Top = "allowed", r.Top
	if r.ExpectDenied {
		run.Expect = "denied"
	}
	run.Failures = run.Report.Failing(!r.ExpectDenied)
	for _, x := range run.Report.Results {
		for _, q := range replay.Requests(x) {
			run.Requests++
			if q.Decision == replay.RequestDenied && !r.ExpectDenied {
				run.Refused = append(run.Refused, q)
			}
		}
	}
	if r.Format == "text" {
		for _, x := range run.Invalid {
			verifyreport.List(o.Stderr, &verify.Report{Results: []verify.Result{x}}, false, o.Cwd)
		}
	}
	if err := replayreport.Formats.Write(o.Stdout, r.Format, &run.Run, reports.Options{Cwd: o.Cwd, Verbose: r.Verbose}); err != nil {
		return err
	}
	if r.Format == "text" {
		replayreport.Summary(o.Stderr, &run.Run)
	}
	if len(run.Failures) > 0 || len(run.Invalid) > 0 || len(run.Refused) > 0 {
		return ErrFailed
	}
	return nil
}
