// Package replayreport owns the output formats of ppc replay: the text
// listing and summary, JSON and JUnit.
package replayreport

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/compiler/verify"
	"github.com/policypilot/ppc/internal/textsafe"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/reports"
	"github.com/policypilot/ppc/reports/junit"
)

// Run is what a replay produced.
type Run struct {
	Graph     *ir.Graph // the flows, every connection attempt
	Records   int64     // records read
	FlowFiles int       // flow files read
	Files     int       // policy files read
	Report    *replay.Report
	Probe     *replay.ProbeReport    // nil without --probe
	Invalid   []verify.Result        // policies not loaded: the cluster would not enforce them
	Loaded    int                    // policies loaded
	Cluster   string                 // the cluster(s) replayed
	Expect    string                 // "allowed" or "denied"
	Failures  []replay.Result        // connections whose verdict is not Expect
	Refused   []replay.RequestResult // observed L7 requests the proxy would refuse (Expect allowed)
	Requests  int                    // observed L7 requests on connections the proxy decides
	Top       int                    // how many probe policies to list

	names map[string]string
}

// Formats are ppc replay's -o values. text lists the connections that
// failed Expect (with Options.Verbose, every one); its summary goes to
// stderr through Summary.
var Formats = reports.NewFormats[*Run]().
	Register("text", func(w io.Writer, r *Run, o reports.Options) error {
		r.text(w, o.Cwd, o.Verbose)
		return nil
	}).
	Register("json", func(w io.Writer, r *Run, o reports.Options) error { return reports.WriteJSON(w, r.json(o.Cwd)) }).
	Register("junit", func(w io.Writer, r *Run, _ reports.Options) error { return r.junit(w) })

// name is how a connection's endpoint is shown (ir.Graph.DisplayNames).
func (r *Run) name(id string) string {
	if r.names == nil {
		r.names = r.Graph.DisplayNames()
	}
	return textsafe.Line(r.names[id])
}

func (r *Run) connName(x replay.Result) string {
	e := x.Edge
	return fmt.Sprintf("%s -> %s %s/%d", r.name(e.Src), r.name(e.Dst), e.Protocol, e.Port)
}

// PointText describes one enforcement point's verdict.
func PointText(where string, pt replay.Point) string {
	switch pt.Decision {
	case replay.NotApplicable:
		return where + ": not enforced"
	case replay.Denied:
		if len(pt.By()) == 0 {
			return where + ": denied (no rule allows it)"
		}
		return where + ": denied by " + refsText(pt.By())
	}
	s := where + ": allowed"
	if len(pt.By()) > 0 {
		s += " by " + refsText(pt.By())
	} else {
		s += " (no policy isolates the endpoint, or the agent allows it: e.g. from the host)"
	}
	if pt.Proxy {
		s += "; the L7 proxy decides per request"
		for _, l := range pt.L7() {
			b, _ := json.Marshal(l.Rules)
			s += fmt.Sprintf(" [%s %s]", l.Parser, b)
		}
	}
	return s
}

func refsText(rs []replay.RuleRef) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, textsafe.Line(r.String()))
	}
	return strings.Join(parts, ", ")
}

func (r *Run) text(w io.Writer, cwd string, verbose bool) {
	fail := map[string]bool{}
	for _, f := range r.Failures {
		fail[f.Edge.ID] = true
	}
	for _, x := range r.Report.Results {
		if !fail[x.Edge.ID] && !verbose {
			continue
		}
		verdict := "allowed"
		if !x.Verdict.Allowed() {
			verdict = "DENIED"
		}
		mark := ""
		if fail[x.Edge.ID] {
			mark = "  (expected " + r.Expect + ")"
		}
		fmt.Fprintf(w, "%-7s %s  %d flows%s\n", verdict, r.connName(x), x.Flows, mark)
		fmt.Fprintf(w, "    %s\n    %s\n", PointText("egress", x.Verdict.Egress), PointText("ingress", x.Verdict.Ingress))
		for _, s := range x.Edge.Samples {
			fmt.Fprintf(w, "    %s\n", reports.RelPos(s, cwd))
		}
	}
}

// Summary is the summary a text replay prints on stderr: policies loaded,
// flows allowed and denied, per-policy use, the probe, the verdict.
func Summary(w io.Writer, r *Run) {
	g, rep := r.Graph, r.Report
	fmt.Fprintf(w, "ppc replay: %d policies loaded", r.Loaded)
	if n := len(r.Invalid); n > 0 {
		fmt.Fprintf(w, " (%d invalid, not loaded: the cluster would not enforce them)", n)
	}
	fmt.Fprintf(w, "; cluster %q\n", r.Cluster)
	fmt.Fprintf(w, "ppc replay: %d records from %d files: %d flows considered (%d connections): %d allowed, %d denied",
		r.Records, r.FlowFiles, rep.Flows, rep.Connections, rep.AllowedFlows, rep.DeniedFlows)
	if rep.Proxied > 0 {
		fmt.Fprintf(w, "; %d connections allowed at L4 where the L7 proxy decides", rep.Proxied)
	}
	fmt.Fprintln(w)
	reports.PrintSkipped(w, g.Stats.Skipped)
	fmt.Fprintln(w, "ppc replay: per policy (flows allowed / denied by its rules):")
	for _, u := range rep.Policies {
		if !u.Exercised() {
			fmt.Fprintf(w, "  %-40s NOT EXERCISED: no flow reached any of its %d rules (review: over-permission or stale)\n", u.Policy, len(u.Rules))
			continue
		}
		fmt.Fprintf(w, "  %-40s %d / %d flows (%d / %d connections)\n", u.Policy, u.AllowedFlows, u.DeniedFlows, u.AllowedConnections, u.DeniedConnections)
		if un := u.Unexercised(); len(un) > 0 {
			fmt.Fprintf(w, "  %-40s   rules no flow exercised: %s\n", "", strings.Join(un, ", "))
		}
	}
	if pr := r.Probe; pr != nil {
		reports.PrintProbeLine(w, pr)
		for i, c := range pr.ByPolicy {
			if i == r.Top {
				break
			}
			fmt.Fprintf(w, "  %-40s allows %d unobserved, e.g.\n", c.Policy, c.Allowed)
			for _, h := range c.Examples {
				fmt.Fprintf(w, "      %s -> %s %s/%d\n", r.name(h.Src), r.name(h.Dst), h.Protocol, h.Port)
			}
		}
	}
	if r.Requests > 0 {
		fmt.Fprintf(w, "ppc replay: L7: %d observed HTTP requests and DNS lookups on connections the proxy decides; %d refused\n", r.Requests, len(r.Refused))
		for _, q := range r.Refused {
			fmt.Fprintf(w, "  REFUSED %s on %s -> %s %s/%d, at %s\n", textsafe.Line(q.What), r.name(q.Edge.Src), r.name(q.Edge.Dst), q.Edge.Protocol, q.Edge.Port, strings.Join(q.RefusedAt, " and "))
		}
	}
	switch n := len(r.Failures); {
	case n > 0:
		fmt.Fprintf(w, "ppc replay: FAIL: %d connections (%d flows) are not %s\n", n, flowsOf(r.Failures), r.Expect)
	case len(r.Refused) > 0:
		fmt.Fprintf(w, "ppc replay: FAIL: every flow is %s at L3/L4, but the L7 proxy would refuse %d observed requests\n", r.Expect, len(r.Refused))
	default:
		fmt.Fprintf(w, "ppc replay: ok: every flow is %s\n", r.Expect)
	}
}

func flowsOf(rs []replay.Result) int64 {
	var n int64
	for _, r := range rs {
		n += r.Flows
	}
	return n
}

// jsonPoint is an enforcement point in -o json.
type jsonPoint struct {
	Decision string           `json:"decision"`
	Proxy    bool             `json:"proxy,omitempty"`
	By       []replay.RuleRef `json:"by"`
	L7       []replay.L7      `json:"l7,omitempty"`
}

func toJSONPoint(p replay.Point) jsonPoint {
	by := p.By()
	if by == nil {
		by = []replay.RuleRef{}
	}
	return jsonPoint{Decision: p.Decision.String(), Proxy: p.Proxy, By: by, L7: p.L7()}
}

func (r *Run) json(cwd string) any {
	type conn struct {
		ID       string    `json:"id"`
		Src      string    `json:"src"`
		Dst      string    `json:"dst"`
		Protocol string    `json:"protocol"`
		Port     uint16    `json:"port"`
		Flows    int64     `json:"flows"`
		Verdict  string    `json:"verdict"`
		Expected bool      `json:"asExpected"`
		Egress   jsonPoint `json:"egress"`
		Ingress  jsonPoint `json:"ingress"`
		Samples  []string  `json:"samples,omitempty"`
	}
	type refused struct {
		Connection string   `json:"connection"`
		Request    string   `json:"request"`
		At         []string `json:"refusedAt"`
	}
	type invalid struct {
		File   string   `json:"file"`
		Line   int      `json:"line"`
		Policy string   `json:"policy"`
		Errors []string `json:"errors"`
	}
	rep := r.Report
	out := struct {
		Cluster string `json:"cluster"`
		Expect  string `json:"expect"`
		Summary struct {
			PoliciesLoaded  int              `json:"policiesLoaded"`
			PoliciesInvalid int              `json:"policiesInvalid"`
			Records         int64            `json:"records"`
			Flows           int64            `json:"flows"`
			Connections     int              `json:"connections"`
			AllowedFlows    int64            `json:"allowedFlows"`
			DeniedFlows     int64            `json:"deniedFlows"`
			Proxied         int              `json:"proxiedConnections"`
			Failed          int              `json:"failedConnections"`
			Requests        int              `json:"l7Requests"`
			Refused         int              `json:"l7Refused"`
			Skipped         map[string]int64 `json:"skipped"`
		} `json:"summary"`
		Connections []conn              `json:"connections"`
		Policies    []replay.PolicyUse  `json:"policies"`
		Invalid     []invalid           `json:"invalidPolicies"`
		Refused     []refused           `json:"refusedRequests"`
		Probe       *replay.ProbeReport `json:"probe,omitempty"`
	}{Cluster: r.Cluster, Expect: r.Expect, Connections: []conn{}, Invalid: []invalid{}, Refused: []refused{}, Policies: rep.Policies, Probe: r.Probe}
	s := &out.Summary
	s.PoliciesLoaded, s.PoliciesInvalid = r.Loaded, len(r.Invalid)
	s.Records, s.Flows, s.Connections = r.Records, rep.Flows, rep.Connections
	s.AllowedFlows, s.DeniedFlows, s.Proxied, s.Failed = rep.AllowedFlows, rep.DeniedFlows, rep.Proxied, len(r.Failures)
	s.Requests, s.Refused = r.Requests, len(r.Refused)
	for _, q := range r.Refused {
		out.Refused = append(out.Refused, refused{Connection: q.Edge.ID, Request: q.What, At: q.RefusedAt})
	}
	s.Skipped = r.Graph.Stats.Skipped
	if s.Skipped == nil {
		s.Skipped = map[string]int64{}
	}
	if out.Policies == nil {
		out.Policies = []replay.PolicyUse{}
	}
	for _, x := range rep.Results {
		e := x.Edge
		verdict := "allowed"
		if !x.Verdict.Allowed() {
			verdict = "denied"
		}
		c := conn{ID: e.ID, Src: e.Src, Dst: e.Dst, Protocol: e.Protocol, Port: e.Port, Flows: x.Flows, Verdict: verdict,
			Expected: verdict == r.Expect, Egress: toJSONPoint(x.Verdict.Egress), Ingress: toJSONPoint(x.Verdict.Ingress)}
		for _, p := range e.Samples {
			c.Samples = append(c.Samples, reports.RelPos(p, cwd))
		}
		out.Connections = append(out.Connections, c)
	}
	for _, v := range r.Invalid {
		iv := invalid{File: reports.RelPos(ir.Pos{File: v.Object.Pos.File}, cwd), Line: v.Object.Pos.Line, Policy: v.Object.ID()}
		for _, d := range v.Diagnostics {
			iv.Errors = append(iv.Errors, verify.Describe(d))
		}
		out.Invalid = append(out.Invalid, iv)
	}
	return out
}

// junit writes one test case per connection (flow group), failed when
// its verdict is not the expected one; invalid policies are failed cases
// of their own suite.
func (r *Run) junit(w io.Writer) error {
	flowsSuite := junit.Suite{Name: "ppc replay: flows must be " + r.Expect}
	for _, x := range r.Report.Results {
		tc := junit.Case{Name: r.connName(x), Classname: r.name(x.Edge.Src)}
		if x.Verdict.Allowed() != (r.Expect == "allowed") {
			verdict := "allowed"
			if !x.Verdict.Allowed() {
				verdict = "denied"
			}
			tc.Failure = &junit.Message{Type: verdict, Message: fmt.Sprintf("%d flows %s, expected %s", x.Flows, verdict, r.Expect),
				Text: PointText("egress", x.Verdict.Egress) + "\n" + PointText("ingress", x.Verdict.Ingress)}
		}
		flowsSuite.Cases = append(flowsSuite.Cases, tc)
	}
	doc := junit.Suites{Name: "ppc replay", Suites: []junit.Suite{flowsSuite}}
	if len(r.Invalid) > 0 {
		ps := junit.Suite{Name: "ppc replay: policies must be valid"}
		for _, v := range r.Invalid {
			var lines []string
			for _, d := range v.Diagnostics {
				lines = append(lines, verify.Describe(d))
			}
			ps.Cases = append(ps.Cases, junit.Case{Name: v.Object.ID(), Classname: v.Object.Pos.File,
				Failure: &junit.Message{Type: "invalid", Message: "not loaded: the cluster would not enforce it", Text: strings.Join(lines, "\n")}})
		}
		doc.Suites = append(doc.Suites, ps)
	}
	return junit.Write(w, doc)
}
