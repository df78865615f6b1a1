package app

import (
	"context"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/reports"
	"github.com/policypilot/ppc/reports/reachreport"
	"github.com/policypilot/ppc/reports/tracereport"
)

// Policies are the policies trace and reach load into Cilium's engine,
// and the agent settings to load them with.
type Policies struct {
	Paths     []string
	Namespace string // of policies that name none
	Agent     agent.Settings
	// InferCluster takes the cluster name from the flows' cluster labels.
	InferCluster bool
}

// Trace is what ppc trace is asked to do: decide one connection, which
// need not have happened, under the policies.
type Trace struct {
	Policies Policies
	// From and To name the ends (compiler.ParseEndpoint), workloads of
	// Flows among them; Proto and Port the destination port.
	From, To string
	Proto    string
	Port     uint16
	Flows    []string
	// FlowFile and FlowLine, when set, name a recorded flow to trace
	// instead of From, To and Port.
	FlowFile string
	FlowLine int
	Format   string // tracereport.Formats
}

// Run traces and writes the answer; a denied connection is ErrFailed.
func (t *Trace) Run(ctx context.Context, o IO) error {
	settings := t.Policies.Agent
	if t.FlowFile != "" {
		g, edge, err := compiler.FlowAt(ctx, t.FlowFile, t.FlowLine)
		if err != nil {
			return err
		}
		if t.Policies.InferCluster {
			// The cluster the flow was recorded in, as replay takes it.
			if name, _ := compiler.InferClusterName(g); name != "" {
				settings.ClusterName = name
			}
		}
		names := g.DisplayNames()
		return t.trace(ctx, o, settings, g.Nodes[edge.Src], g.Nodes[edge.Dst], edge.Protocol, edge.Port, names[edge.Src], names[edge.Dst])
	}
	g, settings, err := learnGraph(ctx, o, t.Flows, settings, t.Policies.InferCluster)
	if err != nil {
		return err
	}
	from, err := compiler.ParseEndpoint(t.From, g)
	if err != nil {
		return Usage("--from: %v", err)
	}
	to, err := compiler.ParseEndpoint(t.To, g)
	if err != nil {
		return Usage("--to: %v", err)
	}
	return t.trace(ctx, o, settings, from, to, t.Proto, t.Port, t.From, t.To)
}

// trace verifies the policies, traces from → to and writes the answer.
func (t *Trace) trace(ctx context.Context, o IO, settings agent.Settings, from, to *ir.Node, proto string, port uint16, fromName, toName string) error {
	vrep, err := verifySet(ctx, o, t.Policies.Paths, settings, t.Policies.Namespace)
	if err != nil {
		return err
	}
	tr, err := compiler.Trace(vrep.Results, settings, from, to, proto, port)
	if err != nil {
		return err
	}
	run := &tracereport.Run{TraceResult: tr, From: fromName, To: toName, Objects: map[string]manifest.Object{}}
	for _, r := range vrep.Results {
		name := r.Object.Name // the engine's name of a policy: namespace/name, or a clusterwide one's name
		if r.Object.Namespace != "" {
			name = r.Object.Namespace + "/" + name
		}
		run.Objects[name] = r.Object
	}
	if err := tracereport.Formats.Write(o.Stdout, t.Format, run, reports.Options{Cwd: o.Cwd}); err != nil {
		return err
	}
	if !run.Allowed() {
		return ErrFailed
	}
	return nil
}

// Reach is what ppc reach is asked to do: who may reach whom, on which
// ports, under the policies.
type Reach struct {
	Policies Policies
	// Flows give the workloads and the ports they serve; without them,
	// the pods the policies select by labels, on the ports their ingress
	// rules name.
	Flows   []string
	Options compiler.ReachOptions
	Format  string // reachreport.Formats
}

// Run decides every pair and writes the table.
func (r *Reach) Run(ctx context.Context, o IO) error {
	g, settings, err := learnGraph(ctx, o, r.Flows, r.Policies.Agent, r.Policies.InferCluster)
	if err != nil {
		return err
	}
	vrep, err := verifySet(ctx, o, r.Policies.Paths, settings, r.Policies.Namespace)
	if err != nil {
		return err
	}
	opts := r.Options
	if g == nil {
		if g, err = compiler.SelectorGraph(vrep.Results); err != nil {
			return err
		}
		opts.FromSelectors = true
	}
	rr, err := compiler.Reach(g, vrep.Results, settings, opts)
	if err != nil {
		return err
	}
	return reachreport.Formats.Write(o.Stdout, r.Format, rr, reports.Options{Cwd: o.Cwd})
}
