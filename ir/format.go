package ir

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Format writes the canonical text dump of g, used by golden tests and
// `--dump ir`: one line per node and edge, sorted by ID, every map in key
// order, so that equal graphs always print the same bytes.
func Format(w io.Writer, g *Graph) error {
	var b strings.Builder
	fmt.Fprintf(&b, "ir v%d\n", Version)
	fmt.Fprintf(&b, "stats records=%d flows=%d", g.Stats.Records, g.Stats.Flows)
	for _, r := range sortedKeys(g.Stats.Skipped) {
		fmt.Fprintf(&b, " skipped[%s]=%d", r, g.Stats.Skipped[r])
	}
	formatCounts(&b, "direction", CountsOf(g.Stats.Direction))
	b.WriteByte('\n')
	nodes := func(what string, ns []*Node) {
		for _, n := range ns {
			formatNode(&b, what, n)
		}
	}
	nodes("node", g.SortedNodes())
	nodes("denied-node", g.SortedDeniedNodes())
	edges := func(what string, es []*Edge) {
		for _, e := range es {
			formatEdge(&b, what, e)
		}
	}
	edges("edge", g.SortedEdges())
	edges("denied", g.SortedDenied())
	for _, u := range g.SortedUndecided() {
		fmt.Fprintf(&b, "undecided %s connections=%d", u.ID, u.Connections)
		for _, v := range sortedKeys(u.Verdicts) {
			fmt.Fprintf(&b, " %s=%d", v, u.Verdicts[v])
		}
		fmt.Fprintf(&b, " records=%d/%d", u.RecordsAB, u.RecordsBA)
		formatSamples(&b, u.Samples)
		b.WriteByte('\n')
	}
	for _, ip := range sortedKeys(g.DNS) {
		fmt.Fprintf(&b, "dns %s %s\n", ip, strings.Join(g.DNS[ip], " "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// formatNode writes one node line.
func formatNode(b *strings.Builder, what string, n *Node) {
	fmt.Fprintf(b, "%s %s %s", what, n.ID, n.Kind)
	switch n.Kind {
	case KindWorkload:
		fmt.Fprintf(b, " ns=%s name=%s labels=[%s]", n.Namespace, n.Name, strings.Join(n.Labels, " "))
	case KindEntity:
		fmt.Fprintf(b, " entities=[%s]", strings.Join(n.Entities, " "))
	case KindCIDR:
		fmt.Fprintf(b, " cidr=%s", n.CIDR)
	case KindFQDN:
		fmt.Fprintf(b, " fqdn=%s", n.FQDN)
	}
	b.WriteByte('\n')
}

// formatEdge writes one edge line (and its L7 facts).
func formatEdge(b *strings.Builder, what string, e *Edge) {
	fmt.Fprintf(b, "%s %s flows=%d", what, e.ID, e.Flows())
	for _, c := range e.Verdicts {
		fmt.Fprintf(b, " %s=%d", c.Key, c.N)
	}
	formatCounts(b, "by", e.Direction)
	if !e.FirstSeen.IsZero() {
		fmt.Fprintf(b, " first=%s last=%s", e.FirstSeen.UTC().Format(time.RFC3339Nano), e.LastSeen.UTC().Format(time.RFC3339Nano))
	}
	formatSamples(b, e.Samples)
	b.WriteByte('\n')
	if e.L7 != nil {
		for _, h := range e.L7.HTTP {
			fmt.Fprintf(b, "  http %s %q\n", h.Method, h.Path)
		}
		for _, d := range e.L7.DNS {
			fmt.Fprintf(b, "  dns %s\n", d)
		}
		if e.L7.Truncated {
			b.WriteString("  l7 truncated\n")
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// formatSamples writes " at=[pos pos …]" for a non-empty sample list.
func formatSamples(b *strings.Builder, ss []Pos) {
	if len(ss) == 0 {
		return
	}
	parts := make([]string, len(ss))
	for i, p := range ss {
		parts[i] = p.String()
	}
	fmt.Fprintf(b, " at=[%s]", strings.Join(parts, " "))
}
