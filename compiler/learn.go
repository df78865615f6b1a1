package compiler

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"

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
	var flowInputs []flows.Input
	for _, in := range inputs {
		r, closer, err := open(in.Name, opts.Stdin)
		if err != nil {
			return nil, flows.Summary{}, nil, err
		}
		br := bufio.NewReaderSize(r, 64<<10)
		head, _ := br.Peek(256)
		if ir.IsIR(head) {
			data, err := io.ReadAll(br)
			if closer != nil {
				closer.Close()
			}
			if err != nil {
				return nil, flows.Summary{}, nil, fmt.Errorf("read IR %s: %w", in.Name, err)
			}
			g := ir.New()
			if err := g.UnmarshalJSON(data); err != nil {
				return nil, flows.Summary{}, nil, fmt.Errorf("read IR %s: %w", in.Name, err)
			}
			snapshots = append(snapshots, g)
			continue
		}
		b.AddSource(in.Name)
		if f, ok := closer.(*os.File); ok && isRegular(f) {
			// A regular file: package flows opens it again (and reads it
			// at positions, on every core). Pipes and devices are read on
			// from what was peeked.
			f.Close()
			flowInputs = append(flowInputs, flows.Input{Name: in.Name})
			continue
		}
		flowInputs = append(flowInputs, flows.Input{Name: in.Name, R: &closingReader{br, closer}})
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
	sum, ds, err := flows.Read(ctx, flowInputs, flows.Options{MaxErrors: opts.MaxErrors, MaxRecordSize: opts.MaxRecordSize, Progress: opts.Progress, Protojson: opts.Protojson,
		NewPrepare: b.Preparer},
		func(rec *flows.Record) error { b.Add(rec); return nil })
	for _, in := range flowInputs {
		if c, ok := in.R.(*closingReader); ok {
			c.Close()
		}
	}
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

func isRegular(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode().IsRegular()
}

type closingReader struct {
	*bufio.Reader
	c io.Closer
}

func (c *closingReader) Close() {
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
}

func open(name string, stdin io.Reader) (io.Reader, io.Closer, error) {
	if name == "-" {
		if stdin == nil {
			stdin = os.Stdin
		}
		return stdin, nil, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, fmt.Errorf("read flows: %w", err)
	}
	return f, f, nil
}
