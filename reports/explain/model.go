// Package explain renders ppc's review reports: a self-contained HTML page
// (Mermaid topology, statistics, per-policy detail; it works offline and
// from a file URL) and Markdown for pull requests. It renders what the
// caller computed — the graph, the policies with their verification
// results, the replay and probe — and computes nothing about Cilium
// itself. Everything that came from the cluster is escaped for the
// context it lands in (HTML, Mermaid, Markdown). The same input gives the
// same bytes.
package explain

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/reports"
)

// Policy is one policy of the report.
type Policy struct {
	Name string // "namespace/name", or "name" for a clusterwide policy
	Kind string
	File string // where it was read from ("" when compiled)
	YAML []byte
	// Errors are the verification errors ("layer: path: message"); a
	// policy with errors was not loaded into the replay.
	Errors []string
	// Notes say what the rule packs decided about the policy beyond its
	// rules (addresses folded into a prefix, a port opened to world).
	Notes []string
}

// Input is everything a report shows.
type Input struct {
	// Title heads the report; Source says where the policies came from.
	Title, Source string
	Graph         *ir.Graph
	Files         int // flow files read
	Policies      []Policy
	// Replay and Probe are nil when no policy was replayed.
	Replay *replay.Report
	Probe  *replay.ProbeReport
	// Excluded are the connections the rule packs chose not to allow,
	// by edge ID, with the reason.
	Excluded map[string]string
	// Notes are the rule packs' warnings that concern no single policy.
	Notes []string
	// Reach is who may reach whom under the policies (nil: not computed,
	// e.g. too many workloads; see MaxReachWorkloads).
	Reach *compiler.ReachResult
	// Anomalies are the anomaly stage's findings (nil: not computed);
	// Recommendations what to change in the policies.
	Anomalies       *compiler.AnomalyReport
	Recommendations []compiler.Recommendation
	// Cwd: sample records in files below it are shown relative to it.
	Cwd    string
	Limits Limits
}

// FlagScore is the score from which an anomaly's subject is outlined on
// the topology.
const FlagScore = compiler.HighScore

// maxAnomalyRows bounds the findings listed in a report (the JSON and
// SARIF outputs list every one).
const maxAnomalyRows = 25

// MaxReachWorkloads bounds the reachability section: it costs one engine
// check per pair of workloads and port.
const MaxReachWorkloads = 60

// model is what the templates render, computed once from Input.
type model struct {
	in         *Input
	Stats      []stat
	Skipped    []stat
	Topology   Diagram
	Namespaces []string           // expandable namespaces (collapsed topology)
	NSDiagrams map[string]Diagram // by namespace
	Policies   []policyView
	Unused     []string // "policy rule" no flow exercised
	PerPolicy  []policyFlows
	Denied     []connView
	Notes      []string
	Probe      *replay.ProbeReport
	Reach      []compiler.ReachPair // world's first
	ProbeTop   []probeView
	Legend     []legend
	// Anomalies are the findings listed (ranked, at most maxAnomalyRows);
	// MoreAnomalies counts the rest.
	Anomalies       []anomalyView
	MoreAnomalies   int
	AnomalyBaseline bool
	Recommendations []compiler.Recommendation
}

type anomalyView struct {
	Score    string
	High     bool // at least FlagScore: outlined on the topology
	Detector string
	Subject  string
	Msg      string
	Evidence string
	Samples  []string
}

type stat struct{ Name, Value string }

// policyFlows is a row of the flows-per-policy table.
type policyFlows struct {
	Anchor, Name       string
	Flows, Denied      int64
	Rules, Unexercised int
}

type legend struct {
	Class Class
	Text  string
	Style string
}

type connView struct {
	Src, Dst, Port string
	Flows          int64
	Why            string
}

type probeView struct {
	Policy   string
	Allowed  int
	Examples []string
}

type ruleView struct {
	Path                string
	Flows               int64
	Connections         int
	FirstSeen, LastSeen string
	Conns               []connView // the connections behind the rule
	More                int        // connections not listed
	// Requests are the HTTP requests and DNS lookups observed on the
	// connections behind the rule ("GET /path", "DNS name"), sorted, at
	// most maxRequestsPerRule; MoreRequests counts the rest.
	Requests     []string
	MoreRequests int
}

// maxRequestsPerRule bounds the requests listed under a rule.
const maxRequestsPerRule = 8

type policyView struct {
	Anchor      string
	Name, Kind  string
	File        string
	YAML        string
	Errors      []string
	Notes       []string
	Loaded      bool
	Flows       int64
	Denied      int64
	Rules       []ruleView
	Unexercised int
}

// maxConnsPerRule bounds the connections listed under a rule.
const maxConnsPerRule = 5

func newModel(in *Input) *model {
	names := in.Graph.DisplayNames()
	if in.Limits == (Limits{}) {
		in.Limits = DefaultLimits
	}
	g := in.Graph
	m := &model{in: in, Probe: in.Probe, Notes: in.Notes, NSDiagrams: map[string]Diagram{}}
	if in.Reach != nil {
		m.Reach = append(append([]compiler.ReachPair(nil), in.Reach.World...), in.Reach.Pairs...)
	}
	classes := edgeClasses(in)

	// Statistics.
	var wl, peers int
	nss := map[string]bool{}
	for _, n := range g.Nodes {
		if n.Kind == ir.KindWorkload {
			wl++
			nss[n.Namespace] = true
		} else {
			peers++
		}
	}
	var skipped int64
	for r, n := range g.Stats.Skipped {
		skipped += n
		m.Skipped = append(m.Skipped, stat{r, fmt.Sprint(n)})
	}
	sort.Slice(m.Skipped, func(i, j int) bool { return m.Skipped[i].Name < m.Skipped[j].Name })
	var ingress, egress int
	if in.Replay != nil {
		for _, u := range in.Replay.Policies {
			for _, r := range u.Rules {
				if strings.Contains(r.Path, ".ingress") {
					ingress++
				} else {
					egress++
				}
			}
		}
	}
	m.Stats = []stat{
		{"Records read", fmt.Sprintf("%d from %d files", g.Stats.Records, in.Files)},
		{"Flows (connection attempts)", fmt.Sprint(g.Stats.Flows)},
		{"Records skipped", fmt.Sprint(skipped)},
		{"Workloads", fmt.Sprintf("%d in %d namespaces", wl, len(nss))},
		{"Other peers (entities, CIDRs, FQDNs)", fmt.Sprint(peers)},
		{"Connections (source, destination, protocol/port)", fmt.Sprint(len(g.Edges))},
		{"Direction decided by (connections)", directionText(g.Stats.Direction)},
		{"Policies", fmt.Sprint(len(in.Policies))},
	}
	if in.Replay != nil {
		r := in.Replay
		m.Stats = append(m.Stats,
			stat{"Rules", fmt.Sprintf("%d ingress, %d egress", ingress, egress)},
			stat{"Replay (Cilium's policy engine)", fmt.Sprintf("%d of %d connections allowed (%d of %d flows); %d through an L7 proxy", r.Allowed, r.Connections, r.AllowedFlows, r.Flows, r.Proxied)})
	}
	if p := in.Probe; p != nil {
		s := fmt.Sprintf("%.2f%%: %d of %d unobserved connections allowed", 100*p.Ratio, p.Allowed, p.Checked)
		if p.Sampled {
			s += fmt.Sprintf(" (a deterministic sample of %d candidates; 95%% confidence: %.2f%%–%.2f%%)", p.Candidates, 100*p.Low, 100*p.High)
		}
		m.Stats = append(m.Stats, stat{"Over-allow ratio (probe)", s})
		for i, c := range p.ByPolicy {
			if i == 10 {
				break
			}
			pv := probeView{Policy: c.Policy, Allowed: c.Allowed}
			for _, h := range c.Examples {
				pv.Examples = append(pv.Examples, fmt.Sprintf("%s → %s %s/%d", names[h.Src], names[h.Dst], h.Protocol, h.Port))
			}
			m.ProbeTop = append(m.ProbeTop, pv)
		}
	}

	// Anomalies.
	flagged := map[string]bool{}
	drawn := map[string]bool{}
	if a := in.Anomalies; a != nil {
		m.AnomalyBaseline = a.Baseline
		for i, f := range a.Findings {
			if f.Score >= FlagScore {
				flagged[f.Subject] = true
			}
			if i >= maxAnomalyRows {
				m.MoreAnomalies++
				continue
			}
			m.Anomalies = append(m.Anomalies, anomalyViewOf(f, names, in.Cwd))
		}
		m.MoreAnomalies += a.Omitted
	}
	m.Recommendations = in.Recommendations

	// The attempts the cluster dropped that are behind a high finding: drawn
	// too, so that the reviewer sees what the flagged workload tried.
	var attempts []*ir.Edge
	if a := in.Anomalies; a != nil {
		for _, f := range a.Findings {
			if f.Score < FlagScore {
				continue
			}
			for _, id := range f.Edges {
				if e := g.Denied[id]; e != nil && !drawn[id] {
					drawn[id] = true
					attempts = append(attempts, e)
				}
			}
		}
	}

	// Topology.
	m.Topology = topology(g, classes, flagged, attempts, in.Limits)
	if m.Topology.Collapsed {
		for ns := range nss {
			m.Namespaces = append(m.Namespaces, ns)
		}
		sort.Strings(m.Namespaces)
		for _, ns := range m.Namespaces {
			m.NSDiagrams[ns] = namespaceTopology(g, ns, classes, flagged, attempts, in.Limits)
		}
	}
	hasReplay := in.Replay != nil
	if len(attempts) > 0 {
		m.Legend = append(m.Legend, legend{ClassAttempt, "an attempt the cluster dropped, behind an anomaly (see Anomalies)", classStyle[ClassAttempt]})
	}
	for _, c := range []Class{ClassAllowed, ClassDrop, ClassDenied, ClassObserved} {
		text := map[Class]string{
			ClassAllowed:  "allowed by the policies (replayed with Cilium's engine)",
			ClassDrop:     "allowed by the policies; the cluster dropped some of its flows when they were observed",
			ClassDenied:   "denied by the policies",
			ClassObserved: "observed (no policy replayed)",
		}[c]
		if hasReplay == (c != ClassObserved) {
			m.Legend = append(m.Legend, legend{c, text, classStyle[c]})
		}
	}

	// Denied connections.
	if in.Replay != nil {
		for _, x := range in.Replay.Results {
			if x.Verdict.Allowed() {
				continue
			}
			why := "denied at " + deniedAt(x.Verdict)
			if r := in.Excluded[x.Edge.ID]; r != "" {
				why = "not allowed, as the rule packs decided: " + r
			}
			m.Denied = append(m.Denied, connView{names[x.Edge.Src], names[x.Edge.Dst], fmt.Sprintf("%s/%d", x.Edge.Protocol, x.Edge.Port), x.Flows, why})
		}
	}

	// Policies.
	m.Policies = policyViews(in, names)
	for _, p := range m.Policies {
		if p.Loaded {
			m.PerPolicy = append(m.PerPolicy, policyFlows{p.Anchor, p.Name, p.Flows, p.Denied, len(p.Rules), p.Unexercised})
		}
	}
	sort.SliceStable(m.PerPolicy, func(i, j int) bool { return m.PerPolicy[i].Flows > m.PerPolicy[j].Flows })
	for _, p := range m.Policies {
		for _, r := range p.Rules {
			if r.Connections == 0 {
				m.Unused = append(m.Unused, p.Name+" "+r.Path)
			}
		}
	}
	return m
}

func anomalyViewOf(f compiler.Anomaly, names map[string]string, cwd string) anomalyView {
	subject := names[f.Subject]
	if subject == "" {
		subject = f.Subject
	}
	ev := f.Evidence
	var parts []string
	if ev.Connections > 0 {
		parts = append(parts, plural(ev.Connections, "connection"))
	}
	if ev.Dropped > 0 {
		parts = append(parts, plural(ev.Dropped, "attempt")+" dropped by policy")
	}
	if ev.Learned {
		parts = append(parts, "learned with --include-denied")
	}
	if !ev.FirstSeen.IsZero() {
		parts = append(parts, fmt.Sprintf("seen %s – %s", stamp(ev.FirstSeen), stamp(ev.LastSeen)))
	}
	v := anomalyView{Score: fmt.Sprintf("%g", f.Score), High: f.Score >= FlagScore, Detector: f.Detector, Subject: subject, Msg: f.Msg, Evidence: strings.Join(parts, "; ")}
	for _, p := range ev.Samples {
		v.Samples = append(v.Samples, reports.RelPos(p, cwd))
	}
	return v
}

// plural is "1 thing" or "n things".
func plural(n int64, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// directionText lists the evidence that decided the connections'
// direction, most used first; "unknown" ones got no rule.
func directionText(by map[string]int64) string {
	if len(by) == 0 {
		return "—"
	}
	kinds := make([]string, 0, len(by))
	for k := range by {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if by[kinds[i]] != by[kinds[j]] {
			return by[kinds[i]] > by[kinds[j]]
		}
		return kinds[i] < kinds[j]
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s %d", strings.ReplaceAll(k, "_", " "), by[k])
		if k == ir.DirectionUnknown {
			parts[i] += " (no rule written)"
		}
	}
	return strings.Join(parts, ", ")
}

func deniedAt(v replay.Verdict) string {
	var w []string
	if v.Egress.Decision == replay.Denied {
		w = append(w, "the source's egress")
	}
	if v.Ingress.Decision == replay.Denied {
		w = append(w, "the destination's ingress")
	}
	return strings.Join(w, " and ")
}

// edgeClasses colours each edge: by the replay verdict when there is one,
// and "drop" when the cluster dropped flows the policies allow.
func edgeClasses(in *Input) map[string]Class {
	cl := map[string]Class{}
	for id, e := range in.Graph.Edges {
		c := ClassObserved
		if in.Replay != nil {
			c = ClassAllowed
		}
		if e.Verdicts.Get("DROPPED") > 0 {
			c = ClassDrop
		}
		cl[id] = c
	}
	if in.Replay != nil {
		for _, x := range in.Replay.Results {
			if !x.Verdict.Allowed() {
				cl[x.Edge.ID] = ClassDenied
			}
		}
	}
	return cl
}

func policyViews(in *Input, names map[string]string) []policyView {
	uses := map[string]replay.PolicyUse{}
	type agg struct {
		first, last time.Time
		conns       []connView
		reqs        map[string]bool
	}
	byRule := map[replay.RuleRef]*agg{}
	if in.Replay != nil {
		for _, u := range in.Replay.Policies {
			uses[u.Policy] = u
		}
		for _, x := range in.Replay.Results {
			e := x.Edge
			for _, pt := range []replay.Point{x.Verdict.Egress, x.Verdict.Ingress} {
				for _, r := range pt.By() {
					a := byRule[r]
					if a == nil {
						a = &agg{}
						byRule[r] = a
					}
					if !e.FirstSeen.IsZero() && (a.first.IsZero() || e.FirstSeen.Before(a.first)) {
						a.first = e.FirstSeen
					}
					if e.LastSeen.After(a.last) {
						a.last = e.LastSeen
					}
					a.conns = append(a.conns, connView{names[e.Src], names[e.Dst], fmt.Sprintf("%s/%d", e.Protocol, e.Port), x.Flows, pt.Decision.String()})
					if e.L7 != nil {
						if a.reqs == nil {
							a.reqs = map[string]bool{}
						}
						for _, h := range e.L7.HTTP {
							a.reqs[h.Method+" "+h.Path] = true
						}
						for _, d := range e.L7.DNS {
							a.reqs["DNS "+d] = true
						}
					}
				}
			}
		}
	}
	var out []policyView
	for i, p := range in.Policies {
		v := policyView{Anchor: fmt.Sprintf("policy-%d", i), Name: p.Name, Kind: p.Kind, File: p.File, YAML: string(p.YAML), Errors: p.Errors, Notes: p.Notes, Loaded: len(p.Errors) == 0}
		u, ok := uses[p.Name]
		if ok {
			v.Flows, v.Denied = u.AllowedFlows, u.DeniedFlows
			for _, r := range u.Rules {
				rv := ruleView{Path: r.Path, Flows: r.Flows, Connections: r.Connections}
				if a := byRule[replay.RuleRef{Policy: p.Name, Path: r.Path}]; a != nil {
					rv.FirstSeen, rv.LastSeen = stamp(a.first), stamp(a.last)
					sort.SliceStable(a.conns, func(i, j int) bool { return a.conns[i].Flows > a.conns[j].Flows })
					rv.Conns = a.conns
					if len(rv.Conns) > maxConnsPerRule {
						rv.More = len(rv.Conns) - maxConnsPerRule
						rv.Conns = rv.Conns[:maxConnsPerRule]
					}
					for q := range a.reqs {
						rv.Requests = append(rv.Requests, q)
					}
					sort.Strings(rv.Requests)
					if len(rv.Requests) > maxRequestsPerRule {
						rv.MoreRequests = len(rv.Requests) - maxRequestsPerRule
						rv.Requests = rv.Requests[:maxRequestsPerRule]
					}
				}
				if r.Connections == 0 {
					v.Unexercised++
				}
				v.Rules = append(v.Rules, rv)
			}
		}
		out = append(out, v)
	}
	return out
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(time.RFC3339)
}
