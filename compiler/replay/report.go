package replay

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/cilium/cilium/pkg/identity"
	"github.com/cilium/cilium/pkg/u8proto"

	"github.com/policypilot/ppc/ir"
)

// Result is the verdict on one observed connection (an IR edge: source,
// destination, protocol and port) and the flows behind it.
type Result struct {
	Edge    *ir.Edge
	Flows   int64
	Verdict Verdict
}

// RuleUse counts what one rule decided.
type RuleUse struct {
	Path        string `json:"rule"`
	Flows       int64  `json:"flows"`
	Connections int    `json:"connections"`
}

// PolicyUse counts what one policy decided: flows and connections its
// rules allowed (or, for deny rules, denied) at an enforcement point.
// Rules lists every rule of the policy, exercised or not.
type PolicyUse struct {
	Policy             string    `json:"policy"`
	AllowedFlows       int64     `json:"allowedFlows"`
	AllowedConnections int       `json:"allowedConnections"`
	DeniedFlows        int64     `json:"deniedFlows"`
	DeniedConnections  int       `json:"deniedConnections"`
	Rules              []RuleUse `json:"rules"`
}

// Exercised reports whether any flow reached one of the policy's rules.
func (p PolicyUse) Exercised() bool { return p.AllowedConnections+p.DeniedConnections > 0 }

// Unexercised lists the rules no flow reached.
func (p PolicyUse) Unexercised() []string {
	var out []string
	for _, r := range p.Rules {
		if r.Connections == 0 {
			out = append(out, r.Path)
		}
	}
	return out
}

// Report is the account of a replay.
type Report struct {
	Results []Result // in edge order
	// Connections / Flows considered, and how many of each were allowed
	// (Proxied of them through an L7 proxy) or denied.
	Connections, Allowed, Denied, Proxied int
	Flows, AllowedFlows, DeniedFlows      int64
	// Policies are every loaded policy with its use, by name.
	Policies []PolicyUse
}

// Replay checks every edge of g (whose identities must be registered,
// see AddGraph) and accounts for every policy and rule.
func (e *Engine) Replay(g *ir.Graph) (*Report, error) {
	t, err := e.nodeTable(g)
	if err != nil {
		return nil, err
	}
	r, err := newReplayRun(g, t)
	if err != nil {
		return nil, err
	}
	if err := e.pass(t, r.works(e, t)...); err != nil {
		return nil, err
	}
	return e.account(r), nil
}

// nodeTable is a graph's nodes in order, with their identities in one
// engine.
type nodeTable struct {
	nodes []*ir.Node
	index map[string]int32
	ids   []*identity.Identity
}

func (e *Engine) nodeTable(g *ir.Graph) (*nodeTable, error) {
	t := &nodeTable{nodes: g.SortedNodes(), index: make(map[string]int32, len(g.Nodes))}
	t.ids = make([]*identity.Identity, len(t.nodes))
	for i, n := range t.nodes {
		id, err := e.Identity(n)
		if err != nil {
			return nil, err
		}
		t.ids[i], t.index[n.ID] = id, int32(i)
	}
	return t, nil
}

// replayRun is a replay under way: the results in edge order (their
// verdicts filled in by the pass), the edges' ends and protocols. The
// results become the report's as they are: at 500k connections a second
// copy was 70 MB more at the end of replay.
type replayRun struct {
	res      []Result
	protos   []u8proto.U8proto
	src, dst []int32
}

func newReplayRun(g *ir.Graph, t *nodeTable) (*replayRun, error) {
	edges := g.SortedEdges()
	n := len(edges)
	r := &replayRun{res: make([]Result, n), protos: make([]u8proto.U8proto, n), src: make([]int32, n), dst: make([]int32, n)}
	for x, ed := range edges {
		proto, ok := Protocol(ed.Protocol)
		if !ok {
			return nil, fmt.Errorf("replay %s: replay: unsupported protocol %q", ed.ID, ed.Protocol)
		}
		r.res[x] = Result{Edge: ed, Flows: ed.Flows()}
		r.protos[x], r.src[x], r.dst[x] = proto, t.index[ed.Src], t.index[ed.Dst]
	}
	return r, nil
}

// works are the replay's lookups: every edge's egress verdict at its
// source, its ingress verdict at its destination (as Check gives them).
func (r *replayRun) works(e *Engine, t *nodeTable) []work {
	return []work{{
		n:    len(r.res),
		node: func(x int) int32 { return e.enforcing(t, r.src[x]) },
		do: func(x int, d *distilled) {
			r.res[x].Verdict.Egress = e.at(d, false, t.ids[r.dst[x]].ID, r.protos[x], r.res[x].Edge.Port, true)
		},
	}, {
		n:    len(r.res),
		node: func(x int) int32 { return e.enforcing(t, r.dst[x]) },
		do: func(x int, d *distilled) {
			r.res[x].Verdict.Ingress = e.at(d, true, t.ids[r.src[x]].ID, r.protos[x], r.res[x].Edge.Port, true)
		},
	}}
}

// account is the report of a replay whose pass has run.
func (e *Engine) account(r *replayRun) *Report {
	rep := &Report{}
	uses := map[string]*PolicyUse{}
	ruleIdx := map[RuleRef]int{}
	for _, p := range e.Policies() {
		u := &PolicyUse{Policy: p.Policy}
		for i, r := range p.Rules {
			u.Rules = append(u.Rules, RuleUse{Path: r})
			ruleIdx[RuleRef{p.Policy, r}] = i
		}
		uses[p.Policy] = u
	}
	rep.Results = r.res
	for _, x := range r.res {
		v, n := x.Verdict, x.Flows
		rep.Connections++
		rep.Flows += n
		if v.Allowed() {
			rep.Allowed++
			rep.AllowedFlows += n
			if v.Proxied() {
				rep.Proxied++
			}
		} else {
			rep.Denied++
			rep.DeniedFlows += n
		}
		for _, pt := range []Point{v.Egress, v.Ingress} {
			for _, pol := range pt.Policies() {
				if u := uses[pol]; u != nil {
					if pt.Decision == Denied {
						u.DeniedFlows += n
						u.DeniedConnections++
					} else {
						u.AllowedFlows += n
						u.AllowedConnections++
					}
				}
			}
			for _, r := range pt.By() {
				if i, ok := ruleIdx[r]; ok {
					u := uses[r.Policy]
					u.Rules[i].Flows += n
					u.Rules[i].Connections++
				}
			}
		}
	}
	for _, u := range uses {
		rep.Policies = append(rep.Policies, *u)
	}
	sort.Slice(rep.Policies, func(i, j int) bool { return rep.Policies[i].Policy < rep.Policies[j].Policy })
	return rep
}

// work is one kind of lookup of a pass: n lookups, node(x) the node whose
// policy decides lookup x (-1: none, Cilium enforces nothing there), do
// the lookup in that node's distilled policy.
type work struct {
	n    int
	node func(x int) int32
	do   func(x int, d *distilled)
}

// pass runs lookups node by node: each node's distilled policy is
// computed once (nodes that share an identity share it), every lookup it
// decides is made, and the policy is let go before the next identity's.
// Memory then follows the largest policy, not the sum over every
// identity (thousands of workloads), and each policy is still computed
// only once however many lookups need it. A policy the engine has cached
// (Check) is used as it is.
func (e *Engine) pass(t *nodeTable, ws ...work) error {
	e.mu.Lock()
	e.anchor()
	e.mu.Unlock()
	total := 0
	for _, w := range ws {
		total += w.n
	}
	// A counting sort by node: order[start[k]:start[k+1]] are node k's
	// lookups, each numbered across the works.
	nodes := len(t.nodes)
	start := make([]int32, nodes+1)
	of := make([]int32, total)
	x := 0
	for _, w := range ws {
		for i := range w.n {
			of[x] = w.node(i)
			if of[x] >= 0 {
				start[of[x]+1]++
			}
			x++
		}
	}
	for k := range nodes {
		start[k+1] += start[k]
	}
	order := make([]int32, start[nodes])
	next := append([]int32(nil), start[:nodes]...)
	for x, k := range of {
		if k >= 0 {
			order[next[k]] = int32(x)
			next[k]++
		}
	}
	byID := make([]int, nodes)
	for k := range byID {
		byID[k] = k
	}
	sort.SliceStable(byID, func(a, b int) bool { return t.ids[byID[a]].ID < t.ids[byID[b]].ID })
	var d *distilled
	for _, k := range byID {
		group := order[start[k]:start[k+1]]
		if len(group) == 0 {
			continue
		}
		if d == nil || d.id != t.ids[k].ID {
			var err error
			if d, err = e.policyOnce(t.ids[k]); err != nil {
				return err
			}
		}
		for _, x := range group {
			i, w := int(x), 0
			for i >= ws[w].n {
				i -= ws[w].n
				w++
			}
			ws[w].do(i, d)
		}
	}
	return nil
}

// ProbeOptions bound a least-privilege probe.
type ProbeOptions struct {
	// Max is the most candidates checked; above it a deterministic
	// sample of Max is checked and the ratio is an estimate. 0 means
	// DefaultProbeMax.
	Max int
	// Examples is how many allowed candidates are kept per policy.
	Examples int
}

// DefaultProbeMax is the default bound on probed candidates: a few
// seconds of verdicts.
const DefaultProbeMax = 1_000_000

// NoPolicy stands for "no policy selects the endpoint in this direction"
// in probe attributions: Cilium allows everything there.
const NoPolicy = "(no policy: the endpoint is not isolated)"

// ProbeHit is one unobserved connection the policies allow.
type ProbeHit struct {
	Src      string    `json:"src"`
	Dst      string    `json:"dst"`
	Protocol string    `json:"protocol"`
	Port     uint16    `json:"port"`
	By       []RuleRef `json:"by,omitempty"`
}

// ProbeCount is how many unobserved connections a policy allows, with
// examples.
type ProbeCount struct {
	Policy   string     `json:"policy"`
	Allowed  int        `json:"allowed"`
	Examples []ProbeHit `json:"examples"`
}

// ProbeReport is the result of a least-privilege probe.
type ProbeReport struct {
	// Candidates is the number of unobserved (source, destination,
	// protocol, port) combinations over the observed endpoints and
	// ports; Checked how many were replayed (all, unless Sampled).
	Candidates int64 `json:"candidates"`
	Checked    int   `json:"checked"`
	Sampled    bool  `json:"sampled"`
	// Allowed of the checked; Ratio = Allowed / Checked, the over-allow
	// ratio.
	Allowed int     `json:"allowed"`
	Ratio   float64 `json:"ratio"`
	// Low and High bound the ratio of the whole candidate space with 95%
	// confidence (Wilson score interval) when Sampled.
	Low      float64      `json:"low,omitempty"`
	High     float64      `json:"high,omitempty"`
	ByPolicy []ProbeCount `json:"byPolicy"`
}

// Probe replays every (source, destination, protocol, port) combination
// over g's endpoints and observed protocol/ports that g did not observe,
// where at least one side is a workload (elsewhere Cilium enforces
// nothing) and the source is not the host (the agent always lets the host
// reach local endpoints), and counts how many the policies allow.
func (e *Engine) Probe(g *ir.Graph, o ProbeOptions) (*ProbeReport, error) {
	return (&Mesh{clusters: []string{""}, engines: []*Engine{e}}).Probe(g, o)
}

// Probe is the least-privilege probe over a ClusterMesh: a candidate's
// egress verdict comes from its source's cluster, its ingress verdict
// from its destination's (as Replay merges them). Policy names are
// prefixed with their cluster.
func (m *Mesh) Probe(g *ir.Graph, o ProbeOptions) (*ProbeReport, error) {
	_, p, err := m.run(g, false, &o)
	return p, err
}

// run replays g (with replay) and probes it (with probe) in one pass per
// engine, so that each identity's policy is computed once for both.
func (m *Mesh) run(g *ir.Graph, replay bool, probe *ProbeOptions) (*Report, *ProbeReport, error) {
	tables := make([]*nodeTable, len(m.engines))
	for k, e := range m.engines {
		t, err := e.nodeTable(g)
		if err != nil {
			return nil, nil, err
		}
		tables[k] = t
	}
	var pr *probeRun
	if probe != nil && len(m.engines) > 0 {
		pr = newProbeRun(g, tables[0], *probe)
	}
	var reps []*Report
	for k, e := range m.engines {
		var ws []work
		var rr *replayRun
		if replay {
			var err error
			if rr, err = newReplayRun(g, tables[k]); err != nil {
				return nil, nil, err
			}
			ws = rr.works(e, tables[k])
		}
		if pr != nil {
			ws = append(ws, pr.works(k, e, tables[k])...)
		}
		if err := e.pass(tables[k], ws...); err != nil {
			return nil, nil, err
		}
		if rr != nil {
			reps = append(reps, e.account(rr))
		}
	}
	var rep *Report
	switch {
	case !replay:
	case len(reps) == 0:
		rep = &Report{}
	case len(m.clusters) == 1 && m.clusters[0] == "":
		rep = reps[0]
	default:
		rep = Merge(m.clusters, reps)
	}
	if pr == nil {
		return rep, nil, nil
	}
	return rep, pr.report(m.clusters), nil
}

type pp struct {
	proto string
	port  uint16
}

// cand is one probe candidate: source and destination node, port.
type cand struct{ i, j, pi int32 }

// probePoint is a verdict at one point and the cluster whose engine gave
// it.
type probePoint struct {
	Point
	cluster int
}

// probeKey tells probe points apart: the probe reads a point's decision
// and rules (shared slices, one per rule set), not its L7 policies.
type probeKey struct {
	dec   Decision
	proxy bool
	why   *pointWhy
	clus  int
}

// probeRun is a probe under way: its candidates, and each one's two
// verdicts (indices into points) once the passes have run.
type probeRun struct {
	o        ProbeOptions
	nodes    []*ir.Node
	ports    []pp
	protos   []u8proto.U8proto
	rep      *ProbeReport
	cands    []cand
	egress   []uint32
	ingress  []uint32
	points   []probePoint
	interned map[probeKey]uint32
}

func newProbeRun(g *ir.Graph, t *nodeTable, o ProbeOptions) *probeRun {
	nodes := t.nodes
	if o.Max <= 0 {
		o.Max = DefaultProbeMax
	}
	if o.Examples <= 0 {
		o.Examples = 5
	}
	portIdx := map[pp]int{}
	var ports []pp
	// Half the room of ints (the map has an entry per connection, live
	// while the probe's candidates are drawn at the end of replay).
	type key struct{ src, dst, port int32 }
	observed := map[key]struct{}{}
	for _, ed := range g.SortedEdges() {
		if _, ok := Protocol(ed.Protocol); !ok {
			continue
		}
		k := pp{ed.Protocol, ed.Port}
		pi, ok := portIdx[k]
		if !ok {
			pi = len(ports)
			portIdx[k] = pi
			ports = append(ports, k)
		}
		observed[key{t.index[ed.Src], t.index[ed.Dst], int32(pi)}] = struct{}{}
	}
	rep := &ProbeReport{}
	isWL := func(i int) bool { return nodes[i].Kind == ir.KindWorkload }
	// The agent lets the host reach every local endpoint
	// (allow-localhost); no policy can change that, so it is not probed.
	isHost := func(i int) bool { return nodes[i].Kind == ir.KindEntity && containsEntity(nodes[i].Entities, "host") }
	probed := func(i, j int) bool { return (isWL(i) || isWL(j)) && !isHost(i) }
	// The probed space, without enumerating it: every workload to every
	// node, and every other node but the host to every workload.
	var wl, others []int
	for i := range nodes {
		switch {
		case isWL(i):
			wl = append(wl, i)
		case !isHost(i):
			others = append(others, i)
		}
	}
	P, N := int64(len(ports)), int64(len(nodes))
	segA := int64(len(wl)) * N * P
	space := segA + int64(len(others))*int64(len(wl))*P
	var observedProbed int64
	for k := range observed {
		if probed(int(k.src), int(k.dst)) {
			observedProbed++
		}
	}
	rep.Candidates = space - observedProbed
	// The candidates, in a fixed order: every one, or a sample.
	var cands []cand
	add := func(i, j, pi int) {
		if _, seen := observed[key{int32(i), int32(j), int32(pi)}]; !seen {
			cands = append(cands, cand{int32(i), int32(j), int32(pi)})
		}
	}
	if rep.Candidates <= int64(o.Max) {
		// Every candidate, in node order.
		for i := range nodes {
			for j := range nodes {
				if !probed(i, j) {
					continue
				}
				for pi := range ports {
					add(i, j, pi)
				}
			}
		}
	} else {
		// A systematic sample of the probed space: every stride-th
		// combination from a fixed offset. The stride shares no factor
		// with the space's dimensions, so the sample does not lock onto
		// one port, source or destination.
		rep.Sampled = true
		stride := (space + int64(o.Max) - 1) / int64(o.Max)
		for gcd(stride, P) != 1 || gcd(stride, N) != 1 || gcd(stride, int64(max(len(wl), 1))) != 1 {
			stride++
		}
		for k := int64(mix(uint64(space)) % uint64(stride)); k < space; k += stride {
			if k < segA {
				q := k / P
				add(wl[q/N], int(q%N), int(k%P))
			} else {
				q := (k - segA) / P
				add(others[q/int64(len(wl))], wl[q%int64(len(wl))], int((k-segA)%P))
			}
		}
	}
	r := &probeRun{o: o, nodes: nodes, ports: ports, rep: rep, cands: cands, points: []probePoint{{}}, interned: map[probeKey]uint32{{}: 0}}
	r.egress, r.ingress = make([]uint32, len(cands)), make([]uint32, len(cands))
	r.protos = make([]u8proto.U8proto, len(ports))
	for pi, p := range ports {
		r.protos[pi], _ = Protocol(p.proto)
	}
	return r
}

// intern returns the index of the point p of cluster k in r.points.
func (r *probeRun) intern(p Point, k int) uint32 {
	s := probeKey{dec: p.Decision, proxy: p.Proxy, why: p.why, clus: k}
	x, ok := r.interned[s]
	if !ok {
		x = uint32(len(r.points))
		r.interned[s] = x
		r.points = append(r.points, probePoint{p, k})
	}
	return x
}

// works are the probe's lookups in the engine of cluster k: each
// candidate's verdict at its source's egress and its destination's
// ingress where that engine enforces (the last engine that does wins,
// as in Mesh.Check).
func (r *probeRun) works(k int, e *Engine, t *nodeTable) []work {
	return []work{{
		n:    len(r.cands),
		node: func(x int) int32 { return e.enforcing(t, r.cands[x].i) },
		do: func(x int, d *distilled) {
			c := r.cands[x]
			r.egress[x] = r.intern(e.at(d, false, t.ids[c.j].ID, r.protos[c.pi], r.ports[c.pi].port, false), k)
		},
	}, {
		n:    len(r.cands),
		node: func(x int) int32 { return e.enforcing(t, r.cands[x].j) },
		do: func(x int, d *distilled) {
			c := r.cands[x]
			r.ingress[x] = r.intern(e.at(d, true, t.ids[c.i].ID, r.protos[c.pi], r.ports[c.pi].port, false), k)
		},
	}}
}

// report counts the candidates the policies allow, in candidate order.
func (r *probeRun) report(clusters []string) *ProbeReport {
	rep, nodes, ports, points, o := r.rep, r.nodes, r.ports, r.points, r.o
	isWL := func(i int) bool { return nodes[i].Kind == ir.KindWorkload }
	counts := map[string]*ProbeCount{}
	for x, c := range r.cands {
		i, j, p := int(c.i), int(c.j), ports[c.pi]
		eg, in := points[r.egress[x]], points[r.ingress[x]]
		v := Verdict{Egress: eg.Point, Ingress: in.Point}
		rep.Checked++
		if !v.Allowed() {
			continue
		}
		rep.Allowed++
		hit := ProbeHit{Src: nodes[i].ID, Dst: nodes[j].ID, Protocol: p.proto, Port: p.port,
			By: mergeRefs(inCluster(clusters[eg.cluster], v.Egress.By()), inCluster(clusters[in.cluster], v.Ingress.By()))}
		pols := map[string]bool{}
		for _, ref := range hit.By {
			pols[ref.Policy] = true
		}
		if (isWL(i) && len(v.Egress.By()) == 0) || (isWL(j) && len(v.Ingress.By()) == 0) {
			pols[NoPolicy] = true
		}
		for pol := range pols {
			c := counts[pol]
			if c == nil {
				c = &ProbeCount{Policy: pol}
				counts[pol] = c
			}
			c.Allowed++
			if len(c.Examples) < o.Examples {
				c.Examples = append(c.Examples, hit)
			}
		}
	}
	if rep.Checked > 0 {
		rep.Ratio = float64(rep.Allowed) / float64(rep.Checked)
		if rep.Sampled {
			rep.Low, rep.High = wilson(rep.Allowed, rep.Checked)
		}
	}
	for _, c := range counts {
		rep.ByPolicy = append(rep.ByPolicy, *c)
	}
	sort.Slice(rep.ByPolicy, func(i, j int) bool {
		a, b := rep.ByPolicy[i], rep.ByPolicy[j]
		if a.Allowed != b.Allowed {
			return a.Allowed > b.Allowed
		}
		return a.Policy < b.Policy
	})
	return rep
}

// wilson is the 95% Wilson score interval of a proportion k of n.
func wilson(k, n int) (lo, hi float64) {
	const z = 1.959964
	p, fn := float64(k)/float64(n), float64(n)
	d := 1 + z*z/fn
	c := (p + z*z/(2*fn)) / d
	h := z * math.Sqrt(p*(1-p)/fn+z*z/(4*fn*fn)) / d
	return max(0, c-h), min(1, c+h)
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// inCluster prefixes the policy names of rs with cluster (a copy: rs is
// shared).
func inCluster(cluster string, rs []RuleRef) []RuleRef {
	if cluster == "" || len(rs) == 0 {
		return rs
	}
	out := make([]RuleRef, len(rs))
	for i, r := range rs {
		r.Policy = cluster + "/" + r.Policy
		out[i] = r
	}
	return out
}

// mix is a fixed 64-bit mixer (splitmix64's finaliser): deterministic
// sampling that does not alias with the candidate order.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Merge combines the reports of one graph replayed by the engines of
// several clusters (each enforcing only at its own workloads, see
// EnforceOnly): a connection's egress verdict comes from its source's
// cluster, its ingress verdict from its destination's. Policy names are
// prefixed with their cluster.
func Merge(clusters []string, reps []*Report) *Report {
	out := &Report{}
	if len(reps) == 0 {
		return out
	}
	for i, r0 := range reps[0].Results {
		x := Result{Edge: r0.Edge, Flows: r0.Flows}
		for _, r := range reps {
			v := r.Results[i].Verdict
			if v.Egress.Decision != NotApplicable {
				x.Verdict.Egress = v.Egress
			}
			if v.Ingress.Decision != NotApplicable {
				x.Verdict.Ingress = v.Ingress
			}
		}
		out.Results = append(out.Results, x)
		out.Connections++
		out.Flows += x.Flows
		if x.Verdict.Allowed() {
			out.Allowed++
			out.AllowedFlows += x.Flows
			if x.Verdict.Proxied() {
				out.Proxied++
			}
		} else {
			out.Denied++
			out.DeniedFlows += x.Flows
		}
	}
	for i, r := range reps {
		for _, u := range r.Policies {
			u.Policy = clusters[i] + "/" + u.Policy
			out.Policies = append(out.Policies, u)
		}
	}
	sort.Slice(out.Policies, func(i, j int) bool { return out.Policies[i].Policy < out.Policies[j].Policy })
	return out
}

// Failing lists the connections whose verdict is not the expected one:
// denied ones when allowed is expected, allowed ones otherwise.
func (r *Report) Failing(expectAllowed bool) []Result {
	var out []Result
	for _, x := range r.Results {
		if x.Verdict.Allowed() != expectAllowed {
			out = append(out, x)
		}
	}
	return out
}

// RequestResult is one L7 request observed on a connection the proxy
// decides (an HTTP request or a DNS lookup) and what the proxy does with
// it.
type RequestResult struct {
	Edge *ir.Edge
	// What names the request: "GET /api/items/1", "DNS api.example.com".
	What     string
	Decision RequestDecision
	// RefusedAt names the points whose rules refuse it.
	RefusedAt []string
}

// Requests decides every L7 request observed on x's connection where it is
// allowed and the proxy decides: refused when a point's rules refuse it,
// unknown when only rules on what flows do not record could allow it.
func Requests(x Result) []RequestResult {
	e := x.Edge
	if e.L7 == nil || !x.Verdict.Allowed() || !x.Verdict.Proxied() {
		return nil
	}
	type request struct {
		what   string
		decide func(Point) (RequestDecision, error)
	}
	var reqs []request
	for _, h := range e.L7.HTTP {
		reqs = append(reqs, request{h.Method + " " + h.Path, func(p Point) (RequestDecision, error) { return p.HTTPRequest(h.Method, h.Path) }})
	}
	for _, n := range e.L7.DNS {
		reqs = append(reqs, request{"DNS " + n, func(p Point) (RequestDecision, error) { return p.DNSQuery(n) }})
	}
	var out []RequestResult
	for _, q := range reqs {
		r := RequestResult{Edge: e, What: q.what}
		for _, pt := range []struct {
			p    Point
			name string
		}{{x.Verdict.Egress, "the source's egress"}, {x.Verdict.Ingress, "the destination's ingress"}} {
			d, err := q.decide(pt.p)
			if err != nil {
				d = RequestUnknown
			}
			switch {
			case d == RequestDenied:
				r.RefusedAt = append(r.RefusedAt, pt.name)
				r.Decision = d
			case d == RequestUnknown && r.Decision == RequestAllowed:
				r.Decision = d
			}
		}
		out = append(out, r)
	}
	return out
}

// L7ProbeReport is the least-privilege probe of the HTTP rules: requests
// never observed, built from the observed ones, that the rules admit.
type L7ProbeReport struct {
	// Candidates counts the unobserved requests tried, Allowed those the
	// L7 rules admit.
	Candidates int `json:"candidates"`
	Allowed    int `json:"allowed"`
	// Examples are up to ten admitted requests, "GET /api/items/ppc-probe
	// on <connection>".
	Examples []string `json:"examples,omitempty"`
}

// probeMethods are the methods tried besides the observed ones.
var probeMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}

// ProbeHTTP tries, on every allowed connection the proxy decides, the
// requests a client could send next that were never observed: each
// observed path with the other methods, with each segment replaced by a
// value never seen ("ppc-probe"), and one segment deeper. The share the L7
// rules admit is what their templates and folds allow beyond the capture.
func ProbeHTTP(results []Result) *L7ProbeReport {
	rep := &L7ProbeReport{}
	for _, x := range results {
		e := x.Edge
		if e.L7 == nil || len(e.L7.HTTP) == 0 || !x.Verdict.Allowed() || !x.Verdict.Proxied() {
			continue
		}
		seen := map[[2]string]bool{}
		for _, h := range e.L7.HTTP {
			seen[[2]string{h.Method, h.Path}] = true
		}
		tried := map[[2]string]bool{}
		try := func(method, path string) {
			k := [2]string{method, path}
			if seen[k] || tried[k] {
				return
			}
			tried[k] = true
			rep.Candidates++
			for _, p := range []Point{x.Verdict.Egress, x.Verdict.Ingress} {
				if d, err := p.HTTPRequest(method, path); err != nil || d != RequestAllowed {
					return
				}
			}
			rep.Allowed++
			if len(rep.Examples) < 10 {
				rep.Examples = append(rep.Examples, method+" "+path+" on "+e.ID)
			}
		}
		for _, h := range e.L7.HTTP {
			for _, m := range probeMethods {
				try(m, h.Path)
			}
			segs := strings.Split(h.Path, "/")
			for i := 1; i < len(segs); i++ {
				v := append([]string(nil), segs...)
				v[i] = "ppc-probe"
				try(h.Method, strings.Join(v, "/"))
			}
			try(h.Method, strings.TrimSuffix(h.Path, "/")+"/ppc-probe")
		}
	}
	return rep
}
