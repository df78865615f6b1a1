package app

import (
	"context"
	"fmt"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/compiler/policydiff"
	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/compiler/verify"
	"github.com/policypilot/ppc/reports"
	"github.com/policypilot/ppc/reports/diffreport"
)

// Diff is what ppc diff is asked to do: compare two policy sets by what
// they enforce and, with flows, by the verdicts they give.
type Diff struct {
	Old, New string // files, directories, "-" or git REV:PATH
	// Flows, when it has paths or a Hubble server, are replayed through
	// each set.
	Flows  *Flows
	Format string // diffreport.Formats
}

// Run compares and writes the diff; sets that differ are ErrFailed.
func (d *Diff) Run(ctx context.Context, o IO) error {
	names := []string{d.Old, d.New}
	sets := make([][]manifest.Object, 2)
	for i, a := range names {
		objs, err := readPolicySet(ctx, o, a)
		if err != nil {
			return err
		}
		sets[i] = objs
	}
	res, err := policydiff.Compare(sets[0], sets[1])
	if err != nil {
		return err
	}
	out := &diffreport.Diff{Old: d.Old, New: d.New, Result: res}
	if d.Flows != nil {
		learned, settings, err := d.Flows.LearnAttempts(ctx, o)
		if err != nil {
			return err
		}
		v, err := verify.New(verify.Options{Agent: settings}) // built once: the CRD validator and CUE values serve both sets
		if err != nil {
			return err
		}
		reps := make([]*replay.Report, 2)
		probes := make([]*replay.ProbeReport, 2)
		for i, objs := range sets {
			pr, err := compiler.ReplayPolicies(ctx, v, learned.Graph, objs, d.Flows.PolicyNamespace, settings, &replay.ProbeOptions{})
			if err != nil {
				return err
			}
			if n := len(pr.Invalid); n > 0 {
				fmt.Fprintf(o.Stderr, "warning: %s: %d invalid policies are not loaded (the cluster would not enforce them); ppc verify %s says why\n", names[i], n, names[i])
			}
			reps[i], probes[i] = pr.Report, pr.Probe
		}
		out.ProbeOld, out.ProbeNew = probes[0], probes[1]
		res.CompareVerdicts(reps[0], reps[1])
		out.Names = learned.Graph.DisplayNames()
	}
	if err := diffreport.Formats.Write(o.Stdout, d.Format, out, reports.Options{Cwd: o.Cwd}); err != nil {
		return err
	}
	if !res.Empty() {
		return ErrFailed
	}
	return nil
}

// readPolicySet reads one side of a diff: a file, a directory, - or a git
// REV:PATH. A document that cannot be read is an error: a diff that
// leaves part of a set out would report its policies as removed.
func readPolicySet(ctx context.Context, o IO, arg string) ([]manifest.Object, error) {
	objs, bad, err := manifest.ReadSet(ctx, arg, o.Stdin)
	if err != nil {
		return nil, err
	}
	if len(bad) > 0 {
		reports.PrintDiagnostics(o.Stderr, bad, o.Cwd)
		return nil, fmt.Errorf("%s: %d documents could not be read", arg, len(bad))
	}
	return objs, nil
}
