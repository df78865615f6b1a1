package ir

import (
	"net/netip"
	"sort"
	"strings"
)

// Verify checks the graph's invariants and returns one ppc_ir_invariant
// diagnostic per violation. A violation is a bug in the stage or pass that
// produced the graph (or a hand-edited snapshot), never a user error.
func Verify(g *Graph) Diagnostics {
	var ds Diagnostics
	bad := func(obj, format string, args ...any) {
		d := Errorf("ppc_ir_invariant", Pos{}, format, args...)
		d.Object = obj
		ds = append(ds, d)
	}
	checkNodes(g.Nodes, bad)
	checkNodes(g.DeniedNodes, bad)
	for id := range g.DeniedNodes {
		if _, ok := g.Nodes[id]; ok {
			bad(id, "node is both learned and denied-only")
		}
	}
	checkEdges(g, "", g.Edges, bad)
	checkEdges(g, "denied ", g.Denied, bad)
	if len(g.DeniedNodes) > 0 {
		denied := map[string]bool{}
		for _, e := range g.Denied {
			denied[e.Src], denied[e.Dst] = true, true
		}
		for id := range g.DeniedNodes {
			if !denied[id] {
				bad(id, "denied-only node no denied attempt names")
			}
		}
	}
	for id, u := range g.Undecided {
		if want := UndecidedID(u.A, u.PortA, u.B, u.PortB, u.Protocol); want != id || u.ID != id {
			bad(id, "undecided id mismatch (want %s)", want)
		}
		if u.B < u.A || u.B == u.A && u.PortB < u.PortA {
			bad(id, "undecided group not in canonical order")
		}
		a, aok := g.Nodes[u.A]
		b, bok := g.Nodes[u.B]
		if !aok || !bok {
			bad(id, "undecided end is not a node")
		} else if a.Kind != KindWorkload && b.Kind != KindWorkload {
			bad(id, "undecided group has no workload endpoint")
		}
		if u.Connections <= 0 || u.RecordsAB < 0 || u.RecordsBA < 0 || u.RecordsAB+u.RecordsBA < u.Connections {
			bad(id, "undecided counts inconsistent (connections %d, records %d/%d)", u.Connections, u.RecordsAB, u.RecordsBA)
		}
		if len(u.Samples) > MaxSamples {
			bad(id, "more than %d samples", MaxSamples)
		}
	}
	if len(g.Undecided) > MaxUndecided {
		bad("", "more than %d undecided groups", MaxUndecided)
	}
	ds.Sort()
	return ds
}

// checkEdges checks the edges of m (g.Edges, or g.Denied with what
// "denied " before each message).
func checkEdges(g *Graph, what string, m map[string]*Edge, bad func(obj, format string, args ...any)) {
	for id, e := range m {
		if want := EdgeID(e.Src, e.Dst, e.Protocol, e.Port); want != id || e.ID != id {
			bad(id, what+"edge id mismatch (want %s)", want)
		}
		src, sok := g.Nodes[e.Src]
		dst, dok := g.Nodes[e.Dst]
		if what != "" { // a denied attempt's ends may be denied-only nodes
			src, dst = g.Node(e.Src), g.Node(e.Dst)
			sok, dok = src != nil, dst != nil
		}
		if !sok {
			bad(id, what+"source %s is not a node", e.Src)
		}
		if !dok {
			bad(id, what+"destination %s is not a node", e.Dst)
		}
		if sok && dok && src.Kind != KindWorkload && dst.Kind != KindWorkload {
			bad(id, what+"edge has no workload endpoint")
		}
		switch e.Protocol {
		case "TCP", "UDP", "SCTP":
			if e.Port == 0 {
				bad(id, what+"%s edge with port 0", e.Protocol)
			}
		case "ICMPv4", "ICMPv6":
		default:
			bad(id, what+"unknown protocol %q", e.Protocol)
		}
		if e.Flows() <= 0 {
			bad(id, what+"edge without observations")
		}
		for _, c := range e.Verdicts {
			if c.N < 0 {
				bad(id, what+"negative count for verdict %s", c.Key)
			}
		}
		if !e.FirstSeen.IsZero() && e.LastSeen.Before(e.FirstSeen) {
			bad(id, what+"last_seen before first_seen")
		}
		if len(e.Samples) > MaxSamples {
			bad(id, what+"more than %d samples", MaxSamples)
		}
	}
}

// checkNodes checks the nodes of m.
func checkNodes(m map[string]*Node, bad func(obj, format string, args ...any)) {
	for id, n := range m {
		if n.ID != id {
			bad(id, "node stored under %q has id %q", id, n.ID)
		}
		switch n.Kind {
		case KindWorkload:
			if n.Namespace == "" {
				bad(id, "workload without namespace")
			}
			if !sort.StringsAreSorted(n.Labels) {
				bad(id, "labels not sorted")
			}
			if want := WorkloadID(n.Namespace, n.Name, n.Labels); want != id {
				bad(id, "workload id does not match its namespace, name and labels (want %s)", want)
			}
		case KindEntity:
			if len(n.Entities) == 0 || !sort.StringsAreSorted(n.Entities) {
				bad(id, "entity node needs sorted entities")
			}
			if want := EntityID(n.Entities); want != id {
				bad(id, "entity id mismatch (want %s)", want)
			}
		case KindCIDR:
			p, err := netip.ParsePrefix(n.CIDR)
			if err != nil || p.Masked() != p {
				bad(id, "cidr node has invalid prefix %q", n.CIDR)
			}
			if want := CIDRID(n.CIDR); want != id {
				bad(id, "cidr id mismatch (want %s)", want)
			}
		case KindFQDN:
			if n.FQDN == "" || n.FQDN != strings.ToLower(n.FQDN) || strings.HasSuffix(n.FQDN, ".") {
				bad(id, "fqdn node needs a lower-case name without trailing dot, got %q", n.FQDN)
			}
			if want := FQDNID(n.FQDN); want != id {
				bad(id, "fqdn id mismatch (want %s)", want)
			}
		default:
			bad(id, "unknown node kind %q", n.Kind)
		}
	}
}
