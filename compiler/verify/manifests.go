package verify

import (
	"context"
	"fmt"

	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/ir"
)

// Result is the verdict on one policy object.
type Result struct {
	Object manifest.Object
	// Diagnostics are every problem found, in layer order; the object is
	// valid when none is an error.
	Diagnostics ir.Diagnostics
}

// Valid reports whether every layer accepted the object.
func (r Result) Valid() bool { return !r.Diagnostics.HasErrors() }

// Layers lists the layers that rejected the object, in order.
func (r Result) Layers() []Layer {
	var ls []Layer
	seen := map[string]bool{}
	for _, d := range r.Diagnostics {
		if d.Severity == ir.Error && !seen[d.Code] {
			seen[d.Code] = true
			ls = append(ls, Layer(d.Code[len("ppc_verify_"):]))
		}
	}
	return ls
}

// Report is the verdict on a set of manifests.
type Report struct {
	Results []Result
	// Skipped counts objects of kinds other than the policy kinds.
	Skipped map[string]int
	// Warnings are problems of the set rather than of one object (e.g. a
	// policy defined twice).
	Warnings ir.Diagnostics
}

// Invalid counts the results with errors.
func (r *Report) Invalid() int {
	n := 0
	for _, x := range r.Results {
		if !x.Valid() {
			n++
		}
	}
	return n
}

// Manifests verifies every policy object in objs. A CiliumNetworkPolicy
// without metadata.namespace is checked as `kubectl apply` sends it: in
// namespace defaultNS. Objects of other kinds are counted in Skipped.
func (v *Verifier) Manifests(ctx context.Context, objs []manifest.Object, defaultNS string) *Report {
	rep := &Report{Skipped: map[string]int{}}
	first := map[string]manifest.Object{}
	var toVerify []int // results still to verify
	for _, o := range objs {
		if v.crds[o.Kind] == nil {
			rep.Skipped[o.Kind]++
			continue
		}
		if o.Kind == "CiliumNetworkPolicy" && o.Namespace == "" {
			if err := o.SetNamespace(defaultNS); err != nil {
				rep.Results = append(rep.Results, Result{Object: o, Diagnostics: ir.Diagnostics{v.diag(LayerSchema, Object{Pos: o.Pos}, o.Name, nil, err.Error())}})
				continue
			}
		}
		if o.Name != "" {
			if prev, ok := first[o.ID()]; ok {
				d := ir.Warnf("ppc_verify_duplicate", o.Pos, "%s is defined again (first at %s); kubectl apply keeps the last", o.ID(), prev.Where())
				d.Object = o.ID()
				rep.Warnings = append(rep.Warnings, d)
			} else {
				first[o.ID()] = o
			}
		}
		rep.Results = append(rep.Results, Result{Object: o})
		toVerify = append(toVerify, len(rep.Results)-1)
	}
	batch := make([]Object, len(toVerify))
	for i, r := range toVerify {
		o := rep.Results[r].Object
		batch[i] = Object{Pos: o.Pos, JSON: o.JSON}
	}
	for i, ds := range v.VerifyAll(ctx, batch) {
		rep.Results[toVerify[i]].Diagnostics = ds
	}
	return rep
}

// String summarises a result for humans.
func (r Result) String() string {
	if r.Valid() {
		return fmt.Sprintf("%s: %s: valid", r.Object.Where(), r.Object.ID())
	}
	return fmt.Sprintf("%s: %s: invalid (%v)", r.Object.Where(), r.Object.ID(), r.Layers())
}
