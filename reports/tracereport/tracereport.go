// Package tracereport owns the output formats of ppc trace: the verdict
// of one connection at the source's egress and the destination's ingress,
// with the policies and rules behind each (file and line), as text and
// JSON.
package tracereport

import (
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/internal/textsafe"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/reports"
)

// Run is what a trace produced.
type Run struct {
	*compiler.TraceResult
	// From and To are the endpoints as the user named them.
	From, To string
	// Objects are the policies by name ("namespace/name", or the name of a
	// clusterwide one), to show where each rule is written.
	Objects map[string]manifest.Object
}

// Allowed reports whether both ends allow the connection.
func (r *Run) Allowed() bool { return r.Verdict.Allowed() }

// Formats are ppc trace's -o values.
var Formats = reports.NewFormats[*Run]().
	Register("text", func(w io.Writer, r *Run, o reports.Options) error { return r.text(w, o.Cwd) }).
	Register("json", func(w io.Writer, r *Run, o reports.Options) error { return reports.WriteJSON(w, r.json(o.Cwd)) })

// where is a rule's file and line.
func (r *Run) where(ref replay.RuleRef, cwd string) string {
	o, ok := r.Objects[ref.Policy]
	if !ok {
		return ""
	}
	return reports.RelPos(ir.Pos{File: o.Pos.File, Line: o.Line(ref.Path)}, cwd)
}

func (r *Run) text(w io.Writer, cwd string) error {
	verdict := "ALLOWED"
	if !r.Allowed() {
		verdict = "DENIED"
	}
	fmt.Fprintf(w, "trace %s -> %s %s/%d: %s\n", textsafe.Line(r.From), textsafe.Line(r.To), r.Protocol, r.Port, verdict)
	r.point(w, "egress", r.From, r.FromPolicies, r.Verdict.Egress, cwd)
	r.point(w, "ingress", r.To, r.ToPolicies, r.Verdict.Ingress, cwd)
	for _, sg := range r.Suggestions {
		b, err := yaml.Marshal([]any{sg.Rule})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "to allow it, add to %s %s:\n", textsafe.Line(sg.Policy), sg.Section)
		for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
			fmt.Fprintf(w, "  %s\n", textsafe.Line(l))
		}
	}
	if !r.Allowed() && len(r.Suggestions) == 0 && (len(r.Verdict.Egress.By()) > 0 || len(r.Verdict.Ingress.By()) > 0) {
		fmt.Fprintln(w, "to allow it, narrow or remove the deny rules above: no allow rule can override them")
	}
	if n := len(r.Invalid); n > 0 {
		fmt.Fprintf(w, "note: %d invalid policies were not loaded (the cluster would not enforce them): ppc verify says why\n", n)
	}
	return nil
}

func (r *Run) point(w io.Writer, side, end string, policies []string, p replay.Point, cwd string) {
	fmt.Fprintf(w, "  %s at %s: ", side, textsafe.Line(end))
	switch {
	case p.Decision == replay.NotApplicable:
		fmt.Fprintln(w, "not enforced (not a Cilium endpoint: no policy applies there)")
		return
	case p.Decision == replay.Allowed && len(p.By()) == 0:
		fmt.Fprintf(w, "allowed: no policy puts it in default deny for %s\n", side)
		return
	case p.Decision == replay.Allowed:
		fmt.Fprintln(w, "allowed by")
	case len(p.By()) == 0:
		fmt.Fprintf(w, "DENIED by default deny: selected by %s, and no rule allows this\n", textsafe.Line(strings.Join(policies, ", ")))
		return
	default:
		fmt.Fprintln(w, "DENIED by the deny rules (deny takes precedence over every allow)")
	}
	for _, ref := range p.By() {
		fmt.Fprintf(w, "    %s %s", textsafe.Line(ref.Policy), ref.Path)
		if at := r.where(ref, cwd); at != "" {
			fmt.Fprintf(w, " (%s)", textsafe.Line(at))
		}
		fmt.Fprintln(w)
	}
	if p.Proxy {
		fmt.Fprintln(w, "    the L7 proxy decides each request:")
		for _, l7 := range p.L7() {
			fmt.Fprintf(w, "      %s %s\n", l7.Parser, textsafe.Line(describeL7(l7)))
		}
	}
}

func describeL7(l7 replay.L7) string {
	var parts []string
	for _, h := range l7.Rules.HTTP {
		parts = append(parts, strings.TrimSpace(h.Method+" "+h.Path))
	}
	for _, d := range l7.Rules.DNS {
		if d.MatchName != "" {
			parts = append(parts, d.MatchName)
		} else {
			parts = append(parts, d.MatchPattern)
		}
	}
	if len(parts) == 0 {
		return "(every request)"
	}
	return strings.Join(parts, ", ")
}

type jsonRule struct {
	Policy string `json:"policy"`
	Rule   string `json:"rule"`
	Where  string `json:"where,omitempty"`
}

type jsonPoint struct {
	Decision string     `json:"decision"`
	Policies []string   `json:"policies"`
	Rules    []jsonRule `json:"rules"`
	Proxy    bool       `json:"proxy,omitempty"`
	L7       []string   `json:"l7,omitempty"`
}

func (r *Run) jsonPoint(p replay.Point, policies []string, cwd string) jsonPoint {
	out := jsonPoint{Decision: p.Decision.String(), Policies: append([]string{}, policies...), Rules: []jsonRule{}, Proxy: p.Proxy}
	for _, ref := range p.By() {
		out.Rules = append(out.Rules, jsonRule{Policy: ref.Policy, Rule: ref.Path, Where: r.where(ref, cwd)})
	}
	for _, l7 := range p.L7() {
		out.L7 = append(out.L7, l7.Parser+" "+describeL7(l7))
	}
	return out
}

func (r *Run) json(cwd string) any {
	verdict := "allowed"
	if !r.Allowed() {
		verdict = "denied"
	}
	return struct {
		From        string                `json:"from"`
		To          string                `json:"to"`
		Protocol    string                `json:"protocol"`
		Port        uint16                `json:"port"`
		Verdict     string                `json:"verdict"`
		Egress      jsonPoint             `json:"egress"`
		Ingress     jsonPoint             `json:"ingress"`
		Loaded      int                   `json:"policiesLoaded"`
		Invalid     int                   `json:"policiesInvalid"`
		Suggestions []compiler.Suggestion `json:"suggestions"`
	}{r.From, r.To, r.Protocol, r.Port, verdict, r.jsonPoint(r.Verdict.Egress, r.FromPolicies, cwd), r.jsonPoint(r.Verdict.Ingress, r.ToPolicies, cwd), r.Loaded, len(r.Invalid), append([]compiler.Suggestion{}, r.Suggestions...)}
}
