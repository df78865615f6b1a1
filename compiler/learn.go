package compiler

import (
	"context"
	"fmt"
	"io"

	"github.com/policypilot/ppc/compiler/flows"
	"github.com/policypilot/ppc/compiler/hubble"
	"github.com/policypilot/ppc/compiler/lower"
	"github.com/policypilot/ppc/ir"
)

// LearnOptions control reading flows into the IR.
type LearnOptions struct {
	Lower     lower.Options
	MaxErrors int
	// MaxRecordSize bounds one flow record in bytes (0: flows.MaxRecordSize).
	MaxRecordSize int
	Stdin         io.Reader
	// Progress, if set, counts the records read.
	Progress *flows.Progress
	// Protojson decodes every record with protojson (for comparisons; the
	// default fast path gives the same graph).
	Protojson bool
	// Hubble, when set, also reads flows live from a Hubble server (Relay)
	// over the observer gRPC API, after the files.
	Hubble *hubble.Options
}

// Learn reads flow files and IR snapshots (told apart by content) and
// returns the merged graph, not yet normalised. Flows are streamed: memory
// grows with distinct endpoints and edges, not with flows. The error is
// non-nil when input could not be read (exit status 2); diagnostics carry
// warnings and the malformed records tolerated under MaxErrors.
func Learn(ctx context.Context, args []string, opts LearnOptions) (*ir.Graph, flows.Summary, ir.Diagnostics, error) {
	inputs, err := flows.Expand(args)
	if err != nil {
		return nil, flows.Summary{}, nil, err
	}
	b := lower.New(opts.Lower)
	var snapshots []*ir.Graph
	flowInputs := make([]flows.Input, len(inputs))
	for i, in := range inputs {
		flowInputs[i] = flows.Input{Name: in.Name}
	}
	// Each file is opened once: package flows shows its first bytes to
	// claimSnapshot, which reads an IR snapshot itself; the rest are flows.
	claimSnapshot := func(name string, head []byte, r io.Reader) (bool, error) {
		if !ir.IsIR(head) {
			b.AddSource(name)
			return false, nil
		}
		g := ir.New()
		if err := g.Read(r); err != nil {
			return true, fmt.Errorf("read IR %s: %w", name, err)
		}
		snapshots = append(snapshots, g)
		return true, nil
	}
	if opts.Hubble != nil {
		rc, err := hubble.Open(ctx, *opts.Hubble)
		if err != nil {
			return nil, flows.Summary{}, nil, err
		}
		defer rc.Close()
		b.AddSource(opts.Hubble.Name())
		flowInputs = append(flowInputs, flows.Input{Name: opts.Hubble.Name(), R: rc})
	}
	sum, ds, err := flows.ReadPrepared(ctx, flowInputs, flows.Options{MaxErrors: opts.MaxErrors, MaxRecordSize: opts.MaxRecordSize, Progress: opts.Progress, Protojson: opts.Protojson,
		Stdin: opts.Stdin, Claim: claimSnapshot}, b.Preparer,
		func(rec *flows.Record, p *lower.Prepared) error { b.Add(rec, p); return nil })
	if err != nil {
		return nil, sum, ds, err
	}
	b.AddSummary(sum)
	g := b.Graph()
	for _, s := range snapshots {
		if err := g.Merge(s); err != nil {
			return nil, sum, ds, err
		}
	}
	return g, sum, ds, nil
}
