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
	for _, ed := range g.SortedEdges() {
		v, err := e.Check(g.Nodes[ed.Src], g.Nodes[ed.Dst], ed.Protocol, ed.Port)
		if err != nil {
			return nil, fmt.Errorf("replay %s: %w", ed.ID, err)
		}
		n := ed.Flows()
		rep.Results = append(rep.Results, Result{Edge: ed, Flows: n, Verdict: v})
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
			for _, r := range pt.By {
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
	return rep, nil
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
	clusters, engines := m.clusters, m.engines
	if o.Max <= 0 {
		o.Max = DefaultProbeMax
	}
	if o.Examples <= 0 {
		o.Examples = 5
	}
	nodes := g.SortedNodes()
	ids := make([][]*identity.Identity, len(engines))
	for k, e := range engines {
		ids[k] = make([]*identity.Identity, len(nodes))
		for i, n := range nodes {
			id, err := e.Identity(n)
			if err != nil {
				return nil, err
			}
			ids[k][i] = id
		}
	}
	// check is the verdict of the clusters' engines, and the cluster of
	// each point's rules.
	check := func(i, j int, proto u8proto.U8proto, port uint16) (v Verdict, egressBy, ingressBy string, err error) {
		for k, e := range engines {
			atS, atD := e.enforces(nodes[i]), e.enforces(nodes[j])
			if !atS && !atD {
				continue
			}
			vk, err := e.check(atS, atD, ids[k][i], ids[k][j], proto, port)
			if err != nil {
				return v, "", "", err
			}
			if atS {
				v.Egress, egressBy = vk.Egress, clusters[k]
			}
			if atD {
				v.Ingress, ingressBy = vk.Ingress, clusters[k]
			}
		}
		return v, egressBy, ingressBy, nil
	}
	type pp struct {
		proto string
		port  uint16
	}
	nodeIdx := map[string]int{}
	for i, n := range nodes {
		nodeIdx[n.ID] = i
	}
	portIdx := map[pp]int{}
	var ports []pp
	type key struct{ src, dst, port int }
	observed := map[key]bool{}
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
		observed[key{nodeIdx[ed.Src], nodeIdx[ed.Dst], pi}] = true
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
		if probed(k.src, k.dst) {
			observedProbed++
		}
	}
	rep.Candidates = space - observedProbed
	counts := map[string]*ProbeCount{}
	visit := func(i, j, pi int) error {
		if observed[key{i, j, pi}] {
			return nil
		}
		src, dst, p := nodes[i], nodes[j], ports[pi]
		proto, _ := Protocol(p.proto)
		v, egressBy, ingressBy, err := check(i, j, proto, p.port)
		if err != nil {
			return err
		}
		rep.Checked++
		if !v.Allowed() {
			return nil
		}
		rep.Allowed++
		hit := ProbeHit{Src: src.ID, Dst: dst.ID, Protocol: p.proto, Port: p.port, By: mergeRefs(inCluster(egressBy, v.Egress.By), inCluster(ingressBy, v.Ingress.By))}
		pols := map[string]bool{}
		for _, r := range hit.By {
			pols[r.Policy] = true
		}
		if (isWL(i) && len(v.Egress.By) == 0) || (isWL(j) && len(v.Ingress.By) == 0) {
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
		return nil
	}
	if rep.Candidates <= int64(o.Max) {
		// Every candidate, in node order.
		for i := range nodes {
			for j := range nodes {
				if !probed(i, j) {
					continue
				}
				for pi := range ports {
					if err := visit(i, j, pi); err != nil {
						return nil, err
					}
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
			var i, j, pi int
			if k < segA {
				q := k / P
				pi, i, j = int(k%P), wl[q/N], int(q%N)
			} else {
				q := (k - segA) / P
				pi, i, j = int((k-segA)%P), others[q/int64(len(wl))], wl[q%int64(len(wl))]
			}
			if err := visit(i, j, pi); err != nil {
				return nil, err
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
	return rep, nil
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
