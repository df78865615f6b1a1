package rules

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/policypilot/ppc/ir"
)

// anomalyQuery is the anomaly stage's query (package ppc.anomaly).
const anomalyQuery = `findings := data.ppc.anomaly.findings`

// MaxAnomalies bounds the findings one evaluation returns: the highest
// scored are kept, and Anomalies says how many were left out.
const MaxAnomalies = 1000

// Anomaly is one finding of the anomaly stage: what a detector of the
// rule packs (the default pack's, or an organisation's) scored as
// deserving a human look.
type Anomaly struct {
	// Detector names the detector ("scan", "repeated_drops", …).
	Detector string `json:"detector"`
	// Score ranks findings: 0 (nothing to see) to 100.
	Score float64 `json:"score"`
	// Subject is the IR node the finding is about (usually the workload
	// that did something unusual).
	Subject string `json:"subject"`
	// Msg says what is unusual, in a sentence.
	Msg string `json:"msg"`
	// Edges are the IR edge IDs (learned or denied) behind the finding.
	Edges []string `json:"edges"`
}

// AnomalyInput is the anomaly stage's input document (see
// rules/README.md): the aggregates detectors read instead of scanning
// every edge (see aggregates), Input's nodes (with the denied-only ones, marked
// denied_only, and every node's display name for messages) and learned
// edges, the denied attempts, and with a
// baseline snapshot, its nodes (ID to namespace, "" outside the cluster)
// and edges (ID to true).
func AnomalyInput(g, baseline *ir.Graph) map[string]any {
	p, _ := newAnomalyPlan(g, baseline, 0) // whole: nothing is converted
	return p.input(0)
}

// DefaultAnomalyChunkEdges is how many edges and denied attempts one
// chunk of the anomaly stage's evaluation holds (see anomalyPlan). An
// edge costs about 1 KB as OPA's value: a chunk's input stays tens of MB,
// where a whole input of 500k connections was 460 MB.
const DefaultAnomalyChunkEdges = 32768

// anomalyPlan builds the anomaly stage's input, whole or in chunks of
// sources. Evaluated per chunk, an input holds every node and the
// aggregates over the whole graph (by_namespace, by_port, connections,
// protocols, baseline), but only the chunk's sources in by_source and
// only their edges and denied attempts in edges and denied. The union of
// the chunks' findings is the whole evaluation's when each finding reads
// the aggregates, the nodes, and edges or attempts of one source, the
// one it is derived from (an edge and an attempt with one ID have one
// source, so they are in one chunk): the default detectors do
// (packs/default/anomaly.rego), and TestChunkedAnomaliesEqualWhole holds
// them to it. A rule an organisation writes may read any edge, so only
// the default pack's Rego is evaluated in chunks (Engine.Anomalies).
type anomalyPlan struct {
	g        *ir.Graph
	nodes    map[string]any // ID to ast.Object, complete
	nodesVal ast.Value
	common   map[string]any           // what every chunk's input shares
	sources  map[string]*sourceAgg    // by_source's entries
	chunks   [][]string               // sources of each chunk; nil: one input with all
	from     map[string][2][]*ir.Edge // source to its edges and attempts
}

// newAnomalyPlan prepares g's anomaly input; per > 0 cuts it into chunks
// of about per edges and attempts (one input when they all fit).
func newAnomalyPlan(g, baseline *ir.Graph, per int) (*anomalyPlan, error) {
	// Every node is complete before an edge holds it (termCache).
	names := g.DisplayNames()
	nodes := make(map[string]any, len(g.Nodes)+len(g.DeniedNodes))
	for i, m := range []map[string]*ir.Node{g.Nodes, g.DeniedNodes} {
		for id, n := range m {
			o := nodeInput(id, n)
			if i == 1 {
				o.Insert(ast.InternedTerm("denied_only"), ast.InternedTerm(true))
			}
			o.Insert(ast.InternedTerm("display"), ast.StringTerm(names[id]))
			nodes[id] = o
		}
	}
	p := &anomalyPlan{g: g, nodes: nodes}
	agg := newAggregates(g)
	p.sources = agg.sources
	p.common = agg.common
	p.common["ir_version"] = json.Number(fmt.Sprint(ir.Version))
	p.common["protocols"] = protocolCounts(maps.Values(g.Edges))
	if baseline != nil {
		bn, be := map[string]any{}, map[string]any{}
		for _, m := range []map[string]*ir.Node{baseline.Nodes, baseline.DeniedNodes} {
			for id, n := range m {
				bn[id] = n.Namespace
			}
		}
		for id := range baseline.Edges {
			be[id] = true
		}
		for id := range baseline.Denied {
			be[id] = true
		}
		p.common["baseline"] = map[string]any{"nodes": bn, "edges": be}
	}
	if per <= 0 || len(g.Edges)+len(g.Denied) <= per {
		return p, nil
	}
	p.from = map[string][2][]*ir.Edge{}
	for i, m := range []map[string]*ir.Edge{g.Edges, g.Denied} {
		for _, e := range m {
			x := p.from[e.Src]
			x[i] = append(x[i], e)
			p.from[e.Src] = x
		}
	}
	srcs := slices.Sorted(maps.Keys(p.from))
	var cur []string
	n := 0
	for _, s := range srcs {
		cur = append(cur, s)
		x := p.from[s]
		n += len(x[0]) + len(x[1])
		if n >= per {
			p.chunks = append(p.chunks, cur)
			cur, n = nil, 0
		}
	}
	if len(cur) > 0 {
		p.chunks = append(p.chunks, cur)
	}
	// What the chunks share is converted for OPA once.
	for k, v := range p.common {
		val, err := ast.InterfaceToValue(v)
		if err != nil {
			return nil, fmt.Errorf("convert the anomaly input's %s for rule packs: %w", k, err)
		}
		p.common[k] = val
	}
	v, err := ast.InterfaceToValue(nodes)
	if err != nil {
		return nil, fmt.Errorf("convert the anomaly input's nodes for rule packs: %w", err)
	}
	p.nodesVal = v
	return p, nil
}

// count is how many inputs the plan has.
func (p *anomalyPlan) count() int { return max(1, len(p.chunks)) }

// input is the plan's i-th input.
func (p *anomalyPlan) input(i int) map[string]any {
	tc := newTermCache(p.nodes)
	in := maps.Clone(p.common)
	if p.chunks == nil {
		in["nodes"] = p.nodes
		in["edges"] = edgesInput(p.g.Edges, tc)
		in["denied"] = edgesInput(p.g.Denied, tc)
		bySource := make(map[string]any, len(p.sources))
		for s, x := range p.sources {
			bySource[s] = x.input()
		}
		in["by_source"] = bySource
		return in
	}
	in["nodes"] = p.nodesVal
	edges, denied, bySource := map[string]any{}, map[string]any{}, map[string]any{}
	for _, s := range p.chunks[i] {
		x := p.from[s]
		for _, e := range x[0] {
			edges[e.ID] = edgeInput(e.ID, e, tc)
		}
		for _, e := range x[1] {
			denied[e.ID] = edgeInput(e.ID, e, tc)
		}
		if x, ok := p.sources[s]; ok {
			bySource[s] = x.input()
		}
	}
	in["edges"], in["denied"], in["by_source"] = edges, denied, bySource
	return in
}

// aggregates are what detectors would otherwise compute by scanning every
// edge, computed once in Go (a scan costs several Rego expressions per
// edge; these cost one pass): by source, its distinct targets (learned
// edges and denied attempts), its dropped attempts [edge, attempts,
// learned], its learned edges [flows, edge] fewest flows first, and its
// edges to CIDR peers [edge, peer] (see sourceAgg); by namespace, the
// edges and attempts with a workload of it at an end and their
// connections; by port ("TCP/80"), how many learned edges and
// connections use it and the first edge; and the learned connections in
// all. The sources stay typed until a chunk's input needs them, and the
// namespaces' edge lists are OPA's values already, one term per edge ID
// (an edge is in the lists of both its ends' namespaces): at 500k
// connections the plan held 126 MB as Go's and OPA's generic values.
type aggregates struct {
	sources map[string]*sourceAgg
	common  map[string]any // by_namespace, by_port, connections
}

// sourceAgg is one source's by_source entry.
type sourceAgg struct {
	targets int
	dropped []droppedAgg
	flows   []flowAgg // fewest flows first
	cidr    [][2]string
}

type droppedAgg struct {
	edge    string
	n       int64
	learned bool
}

type flowAgg struct {
	n    int64
	edge string
}

// input is the source's by_source entry as the input document has it.
func (x *sourceAgg) input() map[string]any {
	dropped := make([]any, len(x.dropped))
	for i, d := range x.dropped {
		dropped[i] = []any{d.edge, num(d.n), d.learned}
	}
	flows := make([]any, len(x.flows))
	for i, f := range x.flows {
		flows[i] = []any{num(f.n), f.edge}
	}
	cidr := make([]any, len(x.cidr))
	for i, c := range x.cidr {
		cidr[i] = []any{c[0], c[1]}
	}
	return map[string]any{"targets": num(int64(x.targets)), "dropped": dropped, "flows": flows, "cidr_edges": cidr}
}

func num(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }

func newAggregates(g *ir.Graph) aggregates {
	type nsAgg struct {
		edges []string
		conns int64
	}
	type portAgg struct {
		proto string
		port  uint16
		edges int
		conns int64
		first string
	}
	srcs := map[string]*sourceAgg{}
	targets := map[string]map[string]bool{}
	nss := map[string]*nsAgg{}
	ports := map[string]*portAgg{}
	var total int64
	visit := func(e *ir.Edge, denied bool) {
		x := srcs[e.Src]
		if x == nil {
			x = &sourceAgg{}
			srcs[e.Src] = x
			targets[e.Src] = map[string]bool{}
		}
		targets[e.Src][e.Dst+" "+e.Protocol+"/"+strconv.Itoa(int(e.Port))] = true
		n := e.Flows()
		switch {
		case denied:
			x.dropped = append(x.dropped, droppedAgg{e.ID, n, false})
		case e.Verdicts.Get("DROPPED") > 0:
			x.dropped = append(x.dropped, droppedAgg{e.ID, e.Verdicts.Get("DROPPED"), true})
		}
		if peer := g.Node(e.Dst); peer != nil && peer.Kind == ir.KindCIDR {
			x.cidr = append(x.cidr, [2]string{e.ID, e.Dst})
		}
		seen := ""
		for _, end := range []string{e.Src, e.Dst} {
			if node := g.Node(end); node != nil && node.Namespace != "" && node.Namespace != seen {
				seen = node.Namespace
				a := nss[node.Namespace]
				if a == nil {
					a = &nsAgg{}
					nss[node.Namespace] = a
				}
				a.edges = append(a.edges, e.ID)
				a.conns += n
			}
		}
		if denied {
			return
		}
		total += n
		x.flows = append(x.flows, flowAgg{n, e.ID})
		if e.Protocol == "TCP" || e.Protocol == "UDP" || e.Protocol == "SCTP" {
			k := e.Protocol + "/" + strconv.Itoa(int(e.Port))
			a := ports[k]
			if a == nil {
				a = &portAgg{proto: e.Protocol, port: e.Port, first: e.ID}
				ports[k] = a
			}
			a.edges++
			a.conns += n
		}
	}
	for _, e := range g.SortedEdges() {
		visit(e, false)
	}
	for _, e := range g.SortedDenied() {
		visit(e, true)
	}
	for id, x := range srcs {
		x.targets = len(targets[id])
		slices.SortStableFunc(x.flows, func(a, b flowAgg) int { return cmp.Compare(a.n, b.n) })
	}
	terms := map[string]*ast.Term{}
	byNS := ast.NewObject()
	for ns, a := range nss {
		sort.Strings(a.edges)
		a.edges = compactStrings(a.edges) // an edge and an attempt share an ID
		ids := make([]*ast.Term, len(a.edges))
		for i, id := range a.edges {
			t := terms[id]
			if t == nil {
				t = ast.StringTerm(id)
				terms[id] = t
			}
			ids[i] = t
		}
		byNS.Insert(ast.StringTerm(ns), ast.ObjectTerm(
			ast.Item(ast.InternedTerm("edges"), ast.ArrayTerm(ids...)),
			ast.Item(ast.InternedTerm("connections"), ast.NumberTerm(num(a.conns))),
		))
	}
	byPort := make(map[string]any, len(ports))
	for k, a := range ports {
		byPort[k] = map[string]any{"protocol": a.proto, "port": num(int64(a.port)), "edges": num(int64(a.edges)), "connections": num(a.conns), "edge": a.first}
	}
	return aggregates{sources: srcs, common: map[string]any{"by_namespace": byNS, "by_port": byPort, "connections": num(total)}}
}

// anomalyChunkDone, when set (by tests), is called after each chunk's
// findings are decoded, with the chunk's index.
var anomalyChunkDone func(i int)

// Anomalies evaluates the packs' anomaly detectors (data.ppc.anomaly) over
// the graph, compared with baseline when it is not nil. Findings come
// ranked: score descending, then detector, subject and message; at most
// MaxAnomalies, and dropped counts the rest.
func (e *Engine) Anomalies(ctx context.Context, g, baseline *ir.Graph) (findings []Anomaly, dropped int, err error) {
	pq, err := e.prepared(ctx, &e.anomaly, anomalyQuery)
	if err != nil {
		return nil, 0, err
	}
	per := 0 // an organisation's Rego is evaluated whole (see anomalyPlan)
	if e.defaultRego && e.anomalyChunkEdges >= 0 {
		per = cmp.Or(e.anomalyChunkEdges, DefaultAnomalyChunkEdges)
	}
	plan, err := newAnomalyPlan(g, baseline, per)
	if err != nil {
		return nil, 0, err
	}
	// The chunks run one after another: the stage holds one chunk's input
	// and evaluation at a time. Each chunk's findings are decoded into Go
	// values before the next: a finding's terms may be the input's own
	// (its subject, an edge ID), and OPA allocates every term of an input
	// object or array in one block, so that keeping one term would keep
	// the whole chunk's input (at 500k connections, 134 MB over 16
	// chunks).
	seen := map[string]bool{}
	for i := range plan.count() {
		b, err := e.eval(ctx, pq, plan.input(i), "data.ppc.anomaly.findings", "is it undefined?", rawTerms)
		if err == nil {
			var fs []Anomaly
			if fs, err = decodeFindings(value(b["findings"]), g, baseline); err != nil {
				err = fmt.Errorf("rule packs' anomaly findings break the contract: %w", err)
			}
			for _, a := range fs { // a finding of the aggregates alone is in every chunk
				if k := a.key(); !seen[k] {
					seen[k] = true
					findings = append(findings, a)
				}
			}
		}
		if err != nil {
			if plan.count() > 1 {
				err = fmt.Errorf("chunk %d of %d: %w", i+1, plan.count(), err)
			}
			return nil, 0, err
		}
		if anomalyChunkDone != nil {
			anomalyChunkDone(i)
		}
	}
	if findings == nil {
		findings = []Anomaly{}
	}
	rankAnomalies(findings)
	if len(findings) > MaxAnomalies {
		dropped = len(findings) - MaxAnomalies
		findings = findings[:MaxAnomalies]
	}
	return findings, dropped, nil
}

// decodeFindings reads one evaluation's findings strictly (fields,
// types, a score in [0, 100], a subject and edges the graph has), each
// finding's edges sorted and without repeats.
func decodeFindings(v ast.Value, g, baseline *ir.Graph) ([]Anomaly, error) {
	var out []Anomaly
	if v == nil {
		v = ast.NewArray()
	}
	err := eachElem(v, "findings", "a set of {detector, score, subject, msg, edges}", func(i int, x ast.Value) error {
		at := elemPath("findings", i)
		var a Anomaly
		err := eachField(x, at, func(k string, y ast.Value) (err error) {
			switch k {
			case "detector":
				a.Detector, err = str(y, at, k)
			case "subject":
				a.Subject, err = str(y, at, k)
			case "msg":
				a.Msg, err = str(y, at, k)
			case "edges":
				a.Edges, err = stringList(y, at+".edges")
			case "score":
				a.Score, err = score(y, at+".score")
			default:
				err = fmt.Errorf("%s.%s: not a field of an anomaly finding (detector, score, subject, msg, edges)", at, k)
			}
			return err
		})
		if err != nil {
			return err
		}
		switch {
		case a.Detector == "" || a.Msg == "":
			return fmt.Errorf("%s: detector and msg are required", at)
		case a.Subject != "" && g.Node(a.Subject) == nil && (baseline == nil || baseline.Node(a.Subject) == nil):
			return fmt.Errorf("%s.subject: %q is no node of the graph", at, a.Subject)
		}
		for _, id := range a.Edges {
			if g.Edges[id] == nil && g.Denied[id] == nil && (baseline == nil || baseline.Edges[id] == nil && baseline.Denied[id] == nil) {
				return fmt.Errorf("%s.edges: %q is no edge or denied attempt of the graph", at, id)
			}
		}
		sort.Strings(a.Edges)
		a.Edges = compactStrings(a.Edges)
		out = append(out, a)
		return nil
	})
	return out, err
}

// key identifies a finding: two findings with one key are one.
func (a Anomaly) key() string {
	return strings.Join(append([]string{a.Detector, strconv.FormatFloat(a.Score, 'g', -1, 64), a.Subject, a.Msg}, a.Edges...), "\x00")
}

// rankAnomalies orders findings by score descending, then detector,
// subject, message and edges.
func rankAnomalies(out []Anomaly) {
	sort.Slice(out, func(i, j int) bool {
		x, y := out[i], out[j]
		if x.Score != y.Score {
			return x.Score > y.Score
		}
		if x.Detector != y.Detector {
			return x.Detector < y.Detector
		}
		if x.Subject != y.Subject {
			return x.Subject < y.Subject
		}
		if x.Msg != y.Msg {
			return x.Msg < y.Msg
		}
		return slices.Compare(x.Edges, y.Edges) < 0
	})
}

func score(v ast.Value, at string) (float64, error) {
	n, ok := v.(ast.Number)
	if !ok {
		return 0, fmt.Errorf("%s: want a number, got %s", at, typeName(v))
	}
	f, err := json.Number(n).Float64()
	if err != nil || math.IsNaN(f) || f < 0 || f > 100 {
		return 0, fmt.Errorf("%s: want a score from 0 to 100, got %s", at, n)
	}
	return math.Round(f*10) / 10, nil
}

func compactStrings(xs []string) []string {
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}
