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
	seen := map[Layer]bool{}
	for _, d := range r.Diagnostics {
		if l := LayerOf(d); d.Severity == ir.Error && l != "" && !seen[l] {
			seen[l] = true
			ls = append(ls, l)
		}
	}
	return ls
}

// Rejected reports whether layer l rejected the object.
func (r Result) Rejected(l Layer) bool {
	for _, x := range r.Layers() {
		if x == l {
			return true
		}
	}
	return false
}

// AgentOnly reports whether the API server accepts the object but the
// Cilium agent rejects it: kubectl apply succeeds and the policy is not
// enforced, the most dangerous verdict.
func (r Result) AgentOnly() bool {
	return r.Rejected(LayerAgent) && !r.Rejected(LayerSchema)
}

// LayerOf is the layer a verification diagnostic comes from ("" for
// diagnostics of other origins).
func LayerOf(d *ir.Diagnostic) Layer {
	for _, l := range []Layer{LayerSchema, LayerAgent, LayerOrg} {
		if d.Code == l.Code() {
			return l
		}
	}
	return ""
}

// Describe renders a verification diagnostic on one line:
// "layer: path: message".
func Describe(d *ir.Diagnostic) string {
	return fmt.Sprintf("%s: %s: %s", LayerOf(d), ir.JoinPath(d.Path), d.Msg)
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

// ByLayer counts the invalid objects by each layer that rejected them.
func (r *Report) ByLayer() map[Layer]int {
	m := map[Layer]int{}
	for _, x := range r.Results {
		for _, l := range x.Layers() {
			m[l]++
		}
	}
	return m
}

// AgentOnly counts the objects the API server accepts and the Cilium
// agent rejects (Result.AgentOnly).
func (r *Report) AgentOnly() int {
	n := 0
	for _, x := range r.Results {
		if x.AgentOnly() {
			n++
		}
	}
	return n
}

// Manifests verifies every policy object in objs. A CiliumNetworkPolicy
// or NetworkPolicy without metadata.namespace is checked as `kubectl apply` sends it: in
// namespace defaultNS. Objects of other kinds are counted in Skipped.
func (v *Verifier) Manifests(ctx context.Context, objs []manifest.Object, defaultNS string) *Report {
	rep := &Report{Skipped: map[string]int{}}
	first := map[string]manifest.Object{}
	var toVerify []int // results still to verify
	for _, o := range objs {
		if !v.Supports(o.Kind) {
			rep.Skipped[o.Kind]++
			continue
		}
		if (o.Kind == "CiliumNetworkPolicy" || o.Kind == NetworkPolicyKind) && o.Namespace == "" {
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
