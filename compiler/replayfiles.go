package compiler

import (
	"context"
	"fmt"

	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/compiler/verify"
	"github.com/policypilot/ppc/ir"
)

// This file holds the pipeline of ppc replay, explain and diff: flows
// learned with every connection attempt kept, and any policies (ppc's or
// hand-written) verified and loaded into Cilium's engine to replay them.

// LearnAttempts learns flows as compile does, every connection attempt
// included (dropped ones too: an attempt is what a replay judges), and
// returns the graph with the agent settings to replay it under: the
// cluster name inferred from the flows with inferCluster, "default" when
// neither names one.
//
// Errors in the result's diagnostics mean the flows could not be learned;
// a graph without a single connection is an InputError (a replay of
// nothing proves nothing).
func LearnAttempts(ctx context.Context, flows []string, learn LearnOptions, settings agent.Settings, inferCluster bool) (*Result, agent.Settings, error) {
	learn.Lower.Attempts = true
	res, err := Compile(ctx, flows, Options{Learn: learn, Agent: settings, InferCluster: inferCluster, StopAfter: StageNormalize})
	if err != nil || res.Diagnostics.HasErrors() {
		return res, settings, err
	}
	if len(res.Graph.Edges) == 0 {
		return res, settings, &InputError{Err: fmt.Errorf("no connection attempt to replay in %d records: a replay of nothing proves nothing", res.Graph.Stats.Records)}
	}
	settings = res.Agent
	if settings.ClusterName == "" {
		settings.ClusterName = "default"
	}
	return res, settings, nil
}

// PolicyReplay is a replay of a set of policies read from manifests.
type PolicyReplay struct {
	*ManifestReplay
	// Verified are every policy of the set with its verification result,
	// valid or not.
	Verified []verify.Result
	// Warnings are verification's findings about the set as a whole (a
	// policy defined twice).
	Warnings ir.Diagnostics
}

// ReplayPolicies verifies objs as the API server and the agent would (a
// namespaced policy without a namespace is checked in namespace, as
// kubectl apply sends it) and replays g through Cilium's engine loaded
// with the valid ones (ReplayManifests). v may be nil (one is built for
// settings); a caller replaying several sets passes one Verifier for all.
func ReplayPolicies(ctx context.Context, v *verify.Verifier, g *ir.Graph, objs []manifest.Object, namespace string, settings agent.Settings, probe *replay.ProbeOptions) (*PolicyReplay, error) {
	if v == nil {
		var err error
		if v, err = verify.New(verify.Options{Agent: settings}); err != nil {
			return nil, err
		}
	}
	vrep := v.Manifests(ctx, objs, namespace)
	out := &PolicyReplay{Verified: vrep.Results, Warnings: vrep.Warnings}
	mr, err := ReplayManifests(g, vrep.Results, settings, probe)
	if err != nil {
		return out, err
	}
	out.ManifestReplay = mr
	return out, nil
}
