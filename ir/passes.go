package ir

import (
	"fmt"
	"net/netip"
	"time"
)

// Pass is one normalisation pass over the graph, changed in place.
type Pass struct {
	Name     string
	Required bool // cannot be disabled
	Run      func(g *Graph) Diagnostics
}

// Passes is the normalisation pass table, in the order passes run.
var Passes = []Pass{
	{Name: "resolve-pods", Required: false, Run: resolvePods},
	{Name: "resolve-dns", Required: false, Run: resolveDNS},
	{Name: "resolve-direction", Required: false, Run: resolveDirection},
	{Name: "prune", Required: true, Run: prune},
}

// PassTiming records how long a pass took.
type PassTiming struct {
	Name     string
	Duration time.Duration
}

// Normalize runs every pass in order, checking invariants after each when
// check is true. A panic in a pass is turned into an internal-error
// diagnostic naming the pass.
func Normalize(g *Graph, check bool, skip map[string]bool) (ds Diagnostics, timings []PassTiming) {
	for _, p := range Passes {
		if skip[p.Name] && !p.Required {
			continue
		}
		start := time.Now()
		pds := runPass(p, g)
		timings = append(timings, PassTiming{p.Name, time.Since(start)})
		ds = append(ds, pds...)
		if pds.HasErrors() {
			return ds, timings
		}
		if check {
			if vs := Verify(g); len(vs) > 0 {
				for _, v := range vs {
					v.Msg = fmt.Sprintf("after pass %s: %s", p.Name, v.Msg)
				}
				return append(ds, vs...), timings
			}
		}
	}
	return ds, timings
}

func runPass(p Pass, g *Graph) (ds Diagnostics) {
	defer func() {
		if r := recover(); r != nil {
			ds = append(ds, Errorf("ppc_internal_error", Pos{}, "internal error in pass %s: %v", p.Name, r))
		}
	}()
	return p.Run(g)
}

// resolvePods attaches workloads seen without labels (field-masked exports,
// or L7 proxy records whose peer identity was not resolved) to the one
// labelled workload of the same namespace known to run the same
// controller. Ambiguous or unknown ones are left alone.
func resolvePods(g *Graph) Diagnostics {
	byPod := map[string][]string{}
	for _, n := range g.SortedNodes() {
		if n.Kind == KindWorkload && len(n.Labels) > 0 {
			for _, p := range n.Pods {
				k := n.Namespace + "/" + p
				byPod[k] = append(byPod[k], n.ID)
			}
		}
	}
	rename := map[string]string{}
	for id, n := range g.allNodes() {
		if n.Kind != KindWorkload || len(n.Labels) > 0 {
			continue
		}
		if c := byPod[n.Namespace+"/"+n.Name]; len(c) == 1 {
			rename[id] = c[0]
		}
	}
	moveEdges(g, rename)
	return nil
}

// allNodes iterates over Nodes, then DeniedNodes.
func (g *Graph) allNodes() func(yield func(string, *Node) bool) {
	return func(yield func(string, *Node) bool) {
		for _, m := range []map[string]*Node{g.Nodes, g.DeniedNodes} {
			for id, n := range m {
				if !yield(id, n) {
					return
				}
			}
		}
	}
}

// moveEdges re-points edges at renamed nodes, merging edges that become
// equal.
func moveEdges(g *Graph, rename map[string]string) {
	if len(rename) == 0 {
		return
	}
	to := func(id string) string {
		if r, ok := rename[id]; ok {
			return r
		}
		return id
	}
	for _, m := range []map[string]*Edge{g.Edges, g.Denied} {
		for _, e := range sortedEdges(m) {
			src, dst := to(e.Src), to(e.Dst)
			if src == e.Src && dst == e.Dst {
				continue
			}
			delete(m, e.ID)
			ne := *e
			ne.Src, ne.Dst, ne.ID = src, dst, EdgeID(src, dst, e.Protocol, e.Port)
			mergeEdge(m, &ne)
		}
	}
	for _, u := range g.SortedUndecided() {
		a, b := to(u.A), to(u.B)
		if a == u.A && b == u.B {
			continue
		}
		delete(g.Undecided, u.ID)
		nu := *u
		nu.A, nu.B = a, b
		nu.canonicalize()
		g.mergeUndecided(&nu)
	}
}

// resolveDNS moves edges whose peer is a single-address CIDR node onto an
// FQDN node when DNS answers seen in the flows name that address. The first
// name in sorted order is used so that the result is deterministic.
func resolveDNS(g *Graph) Diagnostics {
	if len(g.DNS) == 0 {
		return nil
	}
	rename := map[string]string{}
	for id, n := range g.allNodes() {
		if n.Kind != KindCIDR {
			continue
		}
		p, err := netip.ParsePrefix(n.CIDR)
		if err != nil || !p.IsSingleIP() {
			continue
		}
		names := g.DNS[p.Addr().String()]
		if len(names) == 0 {
			continue
		}
		f := g.AddNode(&Node{ID: FQDNID(names[0]), Kind: KindFQDN, FQDN: names[0]})
		rename[id] = f.ID
	}
	moveEdges(g, rename)
	return nil
}

// prune removes nodes no edge, undecided connection or denied attempt
// refers to.
func prune(g *Graph) Diagnostics {
	used := map[string]bool{}
	for _, e := range g.Edges {
		used[e.Src], used[e.Dst] = true, true
	}
	for _, u := range g.Undecided {
		used[u.A], used[u.B] = true, true
	}
	for _, e := range g.Denied {
		used[e.Src], used[e.Dst] = true, true
	}
	defer g.SettleDenied()
	for id := range g.Nodes {
		if !used[id] {
			delete(g.Nodes, id)
		}
	}
	return nil
}
