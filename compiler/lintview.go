package compiler

import (
	"sort"
	"strings"

	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/compiler/verify"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/lint"
)

// LintView decides, for lint, which policies apply to which workload: the
// workloads of g, each matched against the subject of every valid policy
// of results with Cilium's own selector matching (replay.Engine.Selecting)
// — the union Cilium enforces at each endpoint. Invalid policies are left
// out: the cluster would not enforce them.
func LintView(g *ir.Graph, results []verify.Result, settings agent.Settings) (*lint.View, error) {
	eng, err := replay.New(settings)
	if err != nil {
		return nil, err
	}
	var pols []replay.Policy
	for _, r := range results {
		if !r.Valid() {
			continue
		}
		p, err := replay.Decode(r.Object.Kind, r.Object.JSON)
		if err != nil {
			return nil, &InputError{Err: err}
		}
		pols = append(pols, p)
	}
	if err := eng.Load(pols); err != nil {
		return nil, err
	}
	names := g.DisplayNames()
	var ids []string
	for id, n := range g.Nodes {
		if n.Kind == ir.KindWorkload {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	serves := servedPorts(g)
	view := &lint.View{}
	for _, id := range ids {
		n := g.Nodes[id]
		refs, err := eng.Selecting(n)
		if err != nil {
			return nil, err
		}
		w := lint.Workload{Name: names[id], Namespace: n.Namespace, Labels: map[string]string{}}
		for _, l := range n.Labels {
			k, v, _ := strings.Cut(l, "=")
			if src, key, ok := strings.Cut(k, ":"); ok && src == "k8s" {
				w.Labels[key] = v
			}
		}
		for _, r := range refs {
			w.Specs = append(w.Specs, lint.SpecRef{Policy: r.Policy, Path: r.Spec})
		}
		w.Serves = serves[id]
		view.Workloads = append(view.Workloads, w)
	}
	return view, nil
}

// servedPorts are the ports each workload is seen serving, with how many
// of their connections carried HTTP requests Hubble recorded in full.
func servedPorts(g *ir.Graph) map[string][]lint.Served {
	type key struct {
		dst, proto string
		port       uint16
	}
	by := map[key]*lint.Served{}
	for _, e := range g.Edges {
		if e.Protocol != "TCP" && e.Protocol != "UDP" && e.Protocol != "SCTP" {
			continue
		}
		k := key{e.Dst, e.Protocol, e.Port}
		x := by[k]
		if x == nil {
			x = &lint.Served{Protocol: e.Protocol, Port: int(e.Port)}
			by[k] = x
		}
		n := e.Flows()
		x.Connections += n
		if e.L7 != nil && len(e.L7.HTTP) > 0 && !e.L7.Truncated {
			x.HTTP += n
		} else {
			x.Other += n
		}
	}
	out := map[string][]lint.Served{}
	for k, x := range by {
		out[k.dst] = append(out[k.dst], *x)
	}
	for _, xs := range out {
		sort.Slice(xs, func(i, j int) bool {
			if xs[i].Protocol != xs[j].Protocol {
				return xs[i].Protocol < xs[j].Protocol
			}
			return xs[i].Port < xs[j].Port
		})
	}
	return out
}
