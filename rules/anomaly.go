package rules

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"sort"

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
	tc := newTermCache(nodes)
	in := inputDoc(nodes, edgesInput(g.Edges, tc))
	in["protocols"] = protocolCounts(maps.Values(g.Edges))
	in["denied"] = edgesInput(g.Denied, tc)
	for k, v := range aggregates(g) {
		in[k] = v
	}
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
		in["baseline"] = map[string]any{"nodes": bn, "edges": be}
	}
	return in
}

// aggregates are what detectors would otherwise compute by scanning every
// edge, computed once in Go (a scan costs several Rego expressions per
// edge; these cost one pass): by source, its distinct targets (learned
// edges and denied attempts), its dropped attempts [edge, attempts,
// learned], its learned edges [flows, edge] fewest flows first, and its
// edges to CIDR peers [edge, peer]; by namespace, the edges and attempts
// with a workload of it at an end and their connections; by port
// ("TCP/80"), how many learned edges and connections use it and the
// first edge; and the learned connections in all.
func aggregates(g *ir.Graph) map[string]any {
	type source struct {
		targets        map[string]bool
		dropped, flows [][3]any
		cidr           [][2]string
	}
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
	srcs := map[string]*source{}
	nss := map[string]*nsAgg{}
	ports := map[string]*portAgg{}
	var total int64
	src := func(id string) *source {
		x := srcs[id]
		if x == nil {
			x = &source{targets: map[string]bool{}}
			srcs[id] = x
		}
		return x
	}
	visit := func(e *ir.Edge, denied bool) {
		x := src(e.Src)
		x.targets[e.Dst+" "+e.Protocol+"/"+fmt.Sprint(e.Port)] = true
		n := e.Flows()
		switch {
		case denied:
			x.dropped = append(x.dropped, [3]any{e.ID, n, false})
		case e.Verdicts.Get("DROPPED") > 0:
			x.dropped = append(x.dropped, [3]any{e.ID, e.Verdicts.Get("DROPPED"), true})
		}
		if peer := g.Node(e.Dst); peer != nil && peer.Kind == ir.KindCIDR {
			x.cidr = append(x.cidr, [2]string{e.ID, e.Dst})
		}
		seen := map[string]bool{}
		for _, end := range []string{e.Src, e.Dst} {
			if node := g.Node(end); node != nil && node.Namespace != "" && !seen[node.Namespace] {
				seen[node.Namespace] = true
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
		x.flows = append(x.flows, [3]any{n, e.ID, nil})
		if e.Protocol == "TCP" || e.Protocol == "UDP" || e.Protocol == "SCTP" {
			k := e.Protocol + "/" + fmt.Sprint(e.Port)
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
	num := func(n int64) json.Number { return json.Number(fmt.Sprint(n)) }
	bySource := make(map[string]any, len(srcs))
	for id, x := range srcs {
		sort.SliceStable(x.flows, func(i, j int) bool { return x.flows[i][0].(int64) < x.flows[j][0].(int64) })
		dropped := make([]any, len(x.dropped))
		for i, d := range x.dropped {
			dropped[i] = []any{d[0], num(d[1].(int64)), d[2]}
		}
		flows := make([]any, len(x.flows))
		for i, f := range x.flows {
			flows[i] = []any{num(f[0].(int64)), f[1]}
		}
		cidr := make([]any, len(x.cidr))
		for i, c := range x.cidr {
			cidr[i] = []any{c[0], c[1]}
		}
		bySource[id] = map[string]any{"targets": num(int64(len(x.targets))), "dropped": dropped, "flows": flows, "cidr_edges": cidr}
	}
	byNS := make(map[string]any, len(nss))
	for ns, a := range nss {
		sort.Strings(a.edges)
		a.edges = compactStrings(a.edges) // an edge and an attempt share an ID
		ids := make([]any, len(a.edges))
		for i, id := range a.edges {
			ids[i] = id
		}
		byNS[ns] = map[string]any{"edges": ids, "connections": num(a.conns)}
	}
	byPort := make(map[string]any, len(ports))
	for k, a := range ports {
		byPort[k] = map[string]any{"protocol": a.proto, "port": num(int64(a.port)), "edges": num(int64(a.edges)), "connections": num(a.conns), "edge": a.first}
	}
	return map[string]any{"by_source": bySource, "by_namespace": byNS, "by_port": byPort, "connections": num(total)}
}

// Anomalies evaluates the packs' anomaly detectors (data.ppc.anomaly) over
// the graph, compared with baseline when it is not nil. Findings come
// ranked: score descending, then detector, subject and message; at most
// MaxAnomalies, and dropped counts the rest.
func (e *Engine) Anomalies(ctx context.Context, g, baseline *ir.Graph) (findings []Anomaly, dropped int, err error) {
	pq, err := e.prepared(ctx, &e.anomaly, anomalyQuery)
	if err != nil {
		return nil, 0, err
	}
	b, err := e.eval(ctx, pq, AnomalyInput(g, baseline), "data.ppc.anomaly.findings", "is it undefined?")
	if err != nil {
		return nil, 0, err
	}
	findings, err = decodeAnomalies(b["findings"], g, baseline)
	if err != nil {
		return nil, 0, fmt.Errorf("rule packs' anomaly findings break the contract: %w", err)
	}
	if len(findings) > MaxAnomalies {
		dropped = len(findings) - MaxAnomalies
		findings = findings[:MaxAnomalies]
	}
	return findings, dropped, nil
}

// decodeAnomalies reads the findings strictly (fields, types, a score in
// [0, 100], a subject and edges the graph has) and ranks them.
func decodeAnomalies(v any, g, baseline *ir.Graph) ([]Anomaly, error) {
	xs, ok := v.([]any)
	if !ok && v != nil {
		return nil, fmt.Errorf("findings: want a set of {detector, score, subject, msg, edges}, got %s", typeName(v))
	}
	out := make([]Anomaly, 0, len(xs))
	for i, x := range xs {
		at := fmt.Sprintf("findings[%d]", i)
		m, err := object(x, at)
		if err != nil {
			return nil, err
		}
		var a Anomaly
		for k, y := range m {
			switch k {
			case "detector":
				a.Detector, err = str(y, at+".detector")
			case "subject":
				a.Subject, err = str(y, at+".subject")
			case "msg":
				a.Msg, err = str(y, at+".msg")
			case "edges":
				a.Edges, err = stringList(y, at+".edges")
			case "score":
				a.Score, err = score(y, at+".score")
			default:
				err = fmt.Errorf("%s.%s: not a field of an anomaly finding (detector, score, subject, msg, edges)", at, k)
			}
			if err != nil {
				return nil, err
			}
		}
		switch {
		case a.Detector == "" || a.Msg == "":
			return nil, fmt.Errorf("%s: detector and msg are required", at)
		case a.Subject != "" && g.Node(a.Subject) == nil && (baseline == nil || baseline.Node(a.Subject) == nil):
			return nil, fmt.Errorf("%s.subject: %q is no node of the graph", at, a.Subject)
		}
		for _, id := range a.Edges {
			if g.Edges[id] == nil && g.Denied[id] == nil && (baseline == nil || baseline.Edges[id] == nil && baseline.Denied[id] == nil) {
				return nil, fmt.Errorf("%s.edges: %q is no edge or denied attempt of the graph", at, id)
			}
		}
		sort.Strings(a.Edges)
		a.Edges = compactStrings(a.Edges)
		out = append(out, a)
	}
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
		return x.Msg < y.Msg
	})
	return out, nil
}

func score(v any, at string) (float64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%s: want a number, got %s", at, typeName(v))
	}
	f, err := n.Float64()
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
