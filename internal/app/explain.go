package app

import (
	"context"
	"fmt"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/reports"
	"github.com/policypilot/ppc/reports/explain"
)

// Explain is what ppc explain is asked to do: a review report of the
// policies compiled from the flows, or of the given policies replayed
// over them.
type Explain struct {
	Flows Flows
	// Policies, when given, are explained; otherwise the flows are
	// compiled with Rules, Set and Schemas and the result explained.
	Policies             []string
	Rules, Set, Schemas  []string
	Title                string
	Output, Format       string // the report's file ("": stdout) and explain format
	NoProbe, NoAnomalies bool
	Baseline             *ir.Graph
	Anomaly              AnomalyGate
}

// Run builds, renders and writes the report.
func (x *Explain) Run(ctx context.Context, o IO) error {
	var in *explain.Input
	var err error
	if len(x.Policies) > 0 {
		in, err = x.replayed(ctx, o)
	} else {
		in, err = x.compiled(ctx, o)
	}
	if err != nil {
		return err
	}
	in.Cwd = o.Cwd
	b, err := explain.Render(in, x.Format)
	if err != nil {
		return err
	}
	if err := writeFile(o, x.Output, b); err != nil {
		return err
	}
	if x.Output != "" {
		fmt.Fprintf(o.Stderr, "ppc explain: wrote %s\n", x.Output)
	}
	return x.Anomaly.check(o, "explain", in.Anomalies)
}

// replayed explains the given policies, replayed over the flows.
func (x *Explain) replayed(ctx context.Context, o IO) (*explain.Input, error) {
	var po *replay.ProbeOptions
	if !x.NoProbe {
		po = &replay.ProbeOptions{Examples: 10}
	}
	run, err := x.Flows.Replay(ctx, o, x.Policies, po)
	if err != nil {
		return nil, err
	}
	var found *compiler.AnomalyReport
	if !x.NoAnomalies {
		if found, err = compiler.DetectAnomalies(ctx, run.Learned.Graph, compiler.AnomalyOptions{Rules: x.Rules, Set: x.Set, Baseline: x.Baseline, Attempts: true}); err != nil {
			return nil, err
		}
	}
	return explain.FromReplay(explain.Replayed{Title: x.Title, Policies: x.Policies, Flows: x.Flows.Paths, Learned: run.Learned, Cluster: run.Cluster,
		Replay: run.Replay, Agent: run.Settings, Cwd: o.Cwd, Anomalies: found, Baseline: x.Baseline})
}

// compiled explains the policies compiled from the flows.
func (x *Explain) compiled(ctx context.Context, o IO) (*explain.Input, error) {
	res, err := compiler.Compile(ctx, x.Flows.Paths, compiler.Options{
		Learn: x.Flows.Learn,
		Rules: x.Rules, Set: x.Set, Schemas: x.Schemas,
		Agent: x.Flows.Agent, InferCluster: x.Flows.InferCluster, NoProbe: x.NoProbe,
		NoAnomalies: x.NoAnomalies, Baseline: x.Baseline,
	})
	reports.PrintDiagnostics(o.Stderr, res.Diagnostics, o.Cwd)
	if err != nil {
		return nil, err
	}
	if res.Completed != compiler.StageEmit && res.Replay == nil {
		fmt.Fprintf(o.Stderr, "ppc explain: compiling failed (%d errors); no report\n", res.Diagnostics.Count(ir.Error))
		return nil, ErrFailed
	}
	return explain.FromCompile(res, x.Title, x.Flows.Paths)
}
