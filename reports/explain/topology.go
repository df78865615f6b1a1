package explain

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/policypilot/ppc/ir"
)

// Class is how an edge is coloured.
type Class string

// Edge classes, from least to most alarming.
const (
	ClassObserved Class = "observed" // no policy was replayed
	ClassAllowed  Class = "allowed"  // the policies allow it
	ClassDrop     Class = "drop"     // the policies allow it; the cluster dropped some of its flows when observed
	ClassDenied   Class = "denied"   // the policies deny it
	ClassAttempt  Class = "attempt"  // an attempt the cluster dropped, behind an anomaly
)

func (c Class) rank() int {
	switch c {
	case ClassAllowed:
		return 1
	case ClassDrop:
		return 2
	case ClassDenied:
		return 3
	case ClassAttempt:
		return 4
	}
	return 0
}

var classStyle = map[Class]string{
	ClassObserved: "stroke:#607d8b,stroke-width:1.5px",
	ClassAllowed:  "stroke:#2e7d32,stroke-width:2px",
	ClassDrop:     "stroke:#ef6c00,stroke-width:2px,stroke-dasharray:6 3",
	ClassDenied:   "stroke:#c62828,stroke-width:2.5px,stroke-dasharray:2 3",
	ClassAttempt:  "stroke:#6a1b9a,stroke-width:2px,stroke-dasharray:1 4",
}

// Limits bound a diagram. Mermaid refuses diagrams beyond its maxEdges
// (500 by default, which GitHub keeps) and maxTextSize (50,000
// characters), and becomes unreadable long before.
type Limits struct {
	MaxEdges int // edges drawn
	MaxText  int // characters of diagram text
	// Collapse: with more edges than this after merging the ports of
	// the same endpoints, namespaces are drawn as one node each.
	Collapse int
}

// DefaultLimits suit both the HTML report and GitHub.
var DefaultLimits = Limits{MaxEdges: 100, MaxText: 45000, Collapse: 100}

// Diagram is one Mermaid flowchart and what was simplified to draw it.
type Diagram struct {
	Text  string   `json:"text"`
	Notes []string `json:"notes"`
	Nodes int      `json:"nodes"`
	Edges int      `json:"edges"`
	// Collapsed: namespaces are drawn as one node each.
	Collapsed bool `json:"collapsed"`
}

// dnode is a node as drawn: a graph node, or a group of them.
type dnode struct {
	key   string // grouping key
	label string
	group string // namespace subgraph ("" for none)
	kind  string // classDef: wl, ns, ent, cidr, fqdn
	// flagged: the node is (or holds) the subject of an anomaly finding
	// a reviewer must see.
	flagged bool
}

// dedge is an edge as drawn: all connections between two drawn nodes.
type dedge struct {
	src, dst string // dnode keys
	ports    map[string][]uint16
	l7       map[string]bool
	flows    int64
	class    Class
	conns    int
}

type grouping func(n *ir.Node) dnode

// flagging marks the drawn nodes that are or hold a flagged graph node.
func flagging(group grouping, flagged map[string]bool) grouping {
	if len(flagged) == 0 {
		return group
	}
	return func(n *ir.Node) dnode {
		d := group(n)
		d.flagged = flagged[n.ID]
		return d
	}
}

// detailed draws every node as itself.
func detailed(g *ir.Graph) grouping {
	dup := map[string]int{}
	for _, n := range g.Nodes {
		if n.Kind == ir.KindWorkload {
			dup[n.Namespace+"/"+n.Name]++
		}
	}
	return func(n *ir.Node) dnode {
		switch n.Kind {
		case ir.KindWorkload:
			label := n.Name
			if dup[n.Namespace+"/"+n.Name] > 1 {
				_, h, _ := strings.Cut(n.ID, "#")
				label += " #" + h
			}
			return dnode{key: n.ID, label: label, group: n.Namespace, kind: "wl"}
		case ir.KindEntity:
			return dnode{key: n.ID, label: strings.Join(n.Entities, "+"), kind: "ent"}
		case ir.KindCIDR:
			return dnode{key: n.ID, label: n.CIDR, kind: "cidr"}
		case ir.KindFQDN:
			return dnode{key: n.ID, label: n.FQDN, kind: "fqdn"}
		}
		return dnode{key: n.ID, label: n.ID, kind: "ent"}
	}
}

// collapsed draws each namespace as one node, and all CIDR and all FQDN
// peers as one node each; expand keeps one namespace's workloads apart.
func collapsed(g *ir.Graph, expand string) grouping {
	det := detailed(g)
	wl := map[string]int{}
	var cidrs, fqdns int
	for _, n := range g.Nodes {
		switch n.Kind {
		case ir.KindWorkload:
			wl[n.Namespace]++
		case ir.KindCIDR:
			cidrs++
		case ir.KindFQDN:
			fqdns++
		}
	}
	return func(n *ir.Node) dnode {
		switch n.Kind {
		case ir.KindWorkload:
			if n.Namespace == expand {
				return det(n)
			}
			return dnode{key: "ns:" + n.Namespace, label: fmt.Sprintf("namespace %s (%d workloads)", n.Namespace, wl[n.Namespace]), kind: "ns"}
		case ir.KindCIDR:
			if expand != "" {
				return det(n)
			}
			return dnode{key: "cidr:*", label: fmt.Sprintf("%d CIDR peers", cidrs), kind: "cidr"}
		case ir.KindFQDN:
			if expand != "" {
				return det(n)
			}
			return dnode{key: "fqdn:*", label: fmt.Sprintf("%d FQDN peers", fqdns), kind: "fqdn"}
		}
		return det(n)
	}
}

// build groups g's edges (those keep accepts) by the drawn nodes.
func build(g *ir.Graph, group grouping, classes map[string]Class, attempts []*ir.Edge, keep func(*ir.Edge) bool) (map[string]dnode, []*dedge) {
	nodes := map[string]dnode{}
	edges := map[[3]string]*dedge{}
	all := g.SortedEdges()
	for _, e := range attempts {
		c := *e
		c.ID = "attempt " + e.ID // apart from a learned edge of the same ID
		classes[c.ID] = ClassAttempt
		all = append(all, &c)
	}
	for _, e := range all {
		if keep != nil && !keep(e) {
			continue
		}
		s, d := group(g.Node(e.Src)), group(g.Node(e.Dst))
		s.flagged = s.flagged || nodes[s.key].flagged
		nodes[s.key] = s
		d.flagged = d.flagged || nodes[d.key].flagged
		nodes[d.key] = d
		// Attempts the cluster dropped are drawn apart from the traffic
		// it allowed between the same two nodes.
		k := [3]string{s.key, d.key, string(classes[e.ID])}
		if classes[e.ID] != ClassAttempt {
			k[2] = ""
		}
		de := edges[k]
		if de == nil {
			de = &dedge{src: s.key, dst: d.key, ports: map[string][]uint16{}, l7: map[string]bool{}}
			edges[k] = de
		}
		de.ports[e.Protocol] = append(de.ports[e.Protocol], e.Port)
		if e.L7 != nil {
			for _, p := range l7Names(e.L7) {
				de.l7[p] = true
			}
		}
		de.flows += e.Flows()
		de.conns++
		if c := classes[e.ID]; c.rank() > de.class.rank() || de.class == "" {
			de.class = c
		}
	}
	out := make([]*dedge, 0, len(edges))
	for _, e := range edges {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].src != out[j].src {
			return out[i].src < out[j].src
		}
		if out[i].dst != out[j].dst {
			return out[i].dst < out[j].dst
		}
		return out[i].class < out[j].class
	})
	return nodes, out
}

// topology draws g within lim: every node and every connection if that
// fits; else with namespaces collapsed; else the edges with the most
// flows. Notes say what was simplified.
func topology(g *ir.Graph, classes map[string]Class, flagged map[string]bool, attempts []*ir.Edge, lim Limits) Diagram {
	nodes, edges := build(g, flagging(detailed(g), flagged), classes, attempts, nil)
	var notes []string
	if len(edges) == 0 {
		notes = append(notes, "No connection to draw: every record was skipped (see Records skipped).")
	}
	if n := len(g.Edges); n != len(edges) {
		notes = append(notes, fmt.Sprintf("%d connections are drawn as %d edges: the ports of the same two endpoints share one edge.", n, len(edges)))
	}
	if len(edges) <= lim.Collapse {
		return render(nodes, edges, lim, notes)
	}
	nodes, edges = build(g, flagging(collapsed(g, ""), flagged), classes, attempts, nil)
	notes = append(notes, fmt.Sprintf("The graph is large: each namespace is drawn as one node, and all CIDR and all FQDN peers as one node each (%d edges). Pick a namespace to see its workloads.", len(edges)))
	d := render(nodes, edges, lim, notes)
	d.Collapsed = true
	return d
}

// namespaceTopology draws one namespace's workloads and every connection
// that touches them, other namespaces collapsed.
func namespaceTopology(g *ir.Graph, ns string, classes map[string]Class, flagged map[string]bool, attempts []*ir.Edge, lim Limits) Diagram {
	touches := func(e *ir.Edge) bool {
		s, d := g.Node(e.Src), g.Node(e.Dst)
		return (s.Kind == ir.KindWorkload && s.Namespace == ns) || (d.Kind == ir.KindWorkload && d.Namespace == ns)
	}
	nodes, edges := build(g, flagging(collapsed(g, ns), flagged), classes, attempts, touches)
	return render(nodes, edges, lim, []string{fmt.Sprintf("Namespace %s: its workloads and every connection that touches them; other namespaces are drawn as one node each.", ns)})
}

// render writes the Mermaid text, dropping the edges with the fewest
// flows beyond the limits.
func render(nodes map[string]dnode, edges []*dedge, lim Limits, notes []string) Diagram {
	if len(edges) > lim.MaxEdges {
		byFlows := append([]*dedge(nil), edges...)
		sort.SliceStable(byFlows, func(i, j int) bool { return byFlows[i].flows > byFlows[j].flows })
		dropped := byFlows[lim.MaxEdges:]
		var df int64
		for _, e := range dropped {
			df += e.flows
		}
		notes = append(notes, fmt.Sprintf("%d edges with the fewest flows (%d flows in all) are not drawn: Mermaid cannot lay out more than %d readably.", len(dropped), df, lim.MaxEdges))
		edges = keepEdges(edges, byFlows[:lim.MaxEdges])
	}
	for {
		d := write(nodes, edges)
		if len(d.Text) <= lim.MaxText || len(edges) <= 1 {
			d.Notes = notes
			return d
		}
		// Too much text: keep the busier half.
		byFlows := append([]*dedge(nil), edges...)
		sort.SliceStable(byFlows, func(i, j int) bool { return byFlows[i].flows > byFlows[j].flows })
		n := len(edges) / 2
		notes = append(notes, fmt.Sprintf("%d more edges are not drawn to stay within Mermaid's text limit.", len(edges)-n))
		edges = keepEdges(edges, byFlows[:n])
	}
}

func keepEdges(all, keep []*dedge) []*dedge {
	k := map[*dedge]bool{}
	for _, e := range keep {
		k[e] = true
	}
	var out []*dedge
	for _, e := range all {
		if k[e] {
			out = append(out, e)
		}
	}
	return out
}

var kindStyle = []struct{ kind, style string }{
	{"wl", "fill:#e3f2fd,stroke:#1565c0,color:#0d47a1"},
	{"ns", "fill:#ede7f6,stroke:#4527a0,color:#311b92"},
	{"ent", "fill:#fff8e1,stroke:#f9a825,color:#5d4037"},
	{"cidr", "fill:#fce4ec,stroke:#ad1457,color:#880e4f"},
	{"fqdn", "fill:#e8f5e9,stroke:#2e7d32,color:#1b5e20"},
}

// anomalyStyle outlines a flagged node (applied after its kind's class,
// so its stroke wins).
const anomalyStyle = "stroke:#c62828,stroke-width:4px"

func write(nodes map[string]dnode, edges []*dedge) Diagram {
	used := map[string]bool{}
	for _, e := range edges {
		used[e.src], used[e.dst] = true, true
	}
	keys := make([]string, 0, len(used))
	for k := range used {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ids := map[string]string{}
	for i, k := range keys {
		ids[k] = "n" + strconv.Itoa(i)
	}
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for _, ks := range kindStyle {
		fmt.Fprintf(&b, "  classDef %s %s\n", ks.kind, ks.style)
	}
	groups := map[string][]string{}
	var groupNames []string
	byKind := map[string][]string{}
	var flagged []string
	for _, k := range keys {
		n := nodes[k]
		byKind[n.kind] = append(byKind[n.kind], ids[k])
		if n.flagged {
			flagged = append(flagged, ids[k])
		}
		if n.group != "" {
			if _, ok := groups[n.group]; !ok {
				groupNames = append(groupNames, n.group)
			}
			groups[n.group] = append(groups[n.group], k)
			continue
		}
		b.WriteString("  " + shape(ids[k], n) + "\n")
	}
	sort.Strings(groupNames)
	for i, gname := range groupNames {
		fmt.Fprintf(&b, "  subgraph g%d[%s]\n", i, quote("namespace "+gname))
		for _, k := range groups[gname] {
			b.WriteString("    " + shape(ids[k], nodes[k]) + "\n")
		}
		b.WriteString("  end\n")
	}
	byClass := map[Class][]string{}
	for i, e := range edges {
		fmt.Fprintf(&b, "  %s -->|%s| %s\n", ids[e.src], quote(edgeLabel(e)), ids[e.dst])
		byClass[e.class] = append(byClass[e.class], strconv.Itoa(i))
	}
	for _, c := range []Class{ClassObserved, ClassAllowed, ClassDrop, ClassDenied, ClassAttempt} {
		if l := byClass[c]; len(l) > 0 {
			fmt.Fprintf(&b, "  linkStyle %s %s\n", strings.Join(l, ","), classStyle[c])
		}
	}
	for _, ks := range kindStyle {
		if l := byKind[ks.kind]; len(l) > 0 {
			fmt.Fprintf(&b, "  class %s %s\n", strings.Join(l, ","), ks.kind)
		}
	}
	if len(flagged) > 0 {
		fmt.Fprintf(&b, "  classDef anomaly %s\n  class %s anomaly\n", anomalyStyle, strings.Join(flagged, ","))
	}
	return Diagram{Text: b.String(), Nodes: len(keys), Edges: len(edges)}
}

func shape(id string, n dnode) string {
	if n.flagged {
		n.label = "⚠ " + n.label
	}
	switch n.kind {
	case "ent":
		return id + "((" + quote(n.label) + "))"
	case "cidr", "fqdn":
		return id + "[/" + quote(n.label) + "/]"
	case "ns":
		return id + "[[" + quote(n.label) + "]]"
	}
	return id + "[" + quote(n.label) + "]"
}

// edgeLabel lists the ports by protocol ("TCP 80, 443 · UDP 53"), at most
// six per protocol, and the L7 protocols seen.
func edgeLabel(e *dedge) string {
	protos := make([]string, 0, len(e.ports))
	for p := range e.ports {
		protos = append(protos, p)
	}
	sort.Strings(protos)
	var parts []string
	for _, p := range protos {
		ports := e.ports[p]
		sort.Slice(ports, func(i, j int) bool { return ports[i] < ports[j] })
		ports = compactPorts(ports)
		var ss []string
		for i, x := range ports {
			if i == 6 {
				ss = append(ss, fmt.Sprintf("+%d more", len(ports)-6))
				break
			}
			ss = append(ss, strconv.Itoa(int(x)))
		}
		parts = append(parts, p+" "+strings.Join(ss, ", "))
	}
	if len(e.l7) > 0 {
		var l []string
		for k := range e.l7 {
			l = append(l, k)
		}
		sort.Strings(l)
		parts = append(parts, strings.Join(l, ", "))
	}
	return strings.Join(parts, " · ")
}

func compactPorts(ps []uint16) []uint16 {
	var out []uint16
	for i, p := range ps {
		if i == 0 || p != ps[i-1] {
			out = append(out, p)
		}
	}
	return out
}

// l7Names names the L7 protocols an edge carried ("HTTP", "DNS", …).
func l7Names(l *ir.L7) []string {
	var out []string
	if len(l.HTTP) > 0 {
		out = append(out, "HTTP")
	}
	if len(l.DNS) > 0 {
		out = append(out, "DNS")
	}
	return out
}

// maxLabel bounds a label's length (in runes) in a diagram.
const maxLabel = 60

// quote makes untrusted text a Mermaid string: only letters, digits,
// space and . - _ / : , = + @ stay as they are; every other character
// (quotes, brackets, <, >, #, ;, |, newlines, …) becomes Mermaid's
// numeric entity #NNN;, which Mermaid turns into an HTML character
// reference, so the label shows the character as text. Nothing from the
// cluster can close the string, start a statement or inject markup (and
// Mermaid's strict security level sanitizes labels besides).
func quote(s string) string {
	if utf8.RuneCountInString(s) > maxLabel {
		r := []rune(s)
		s = string(r[:maxLabel-1]) + "…"
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			r == ' ', r == '.', r == '-', r == '_', r == '/', r == ':', r == ',', r == '=', r == '+', r == '@':
			b.WriteRune(r)
		default:
			fmt.Fprintf(&b, "#%d;", r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
