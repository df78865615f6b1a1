// Package lintreport owns the output formats of ppc lint: text (with
// colours on a terminal), JSON, SARIF 2.1.0 for code scanning, JUnit, TAP
// and GitHub Actions workflow commands.
package lintreport

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/policypilot/ppc/internal/textsafe"
	"github.com/policypilot/ppc/lint"
	"github.com/policypilot/ppc/reports"
	"github.com/policypilot/ppc/reports/junit"
)

// Formats are ppc lint's -o values. Options.Color paints text for a
// terminal; Options.Version names ppc's version in SARIF.
var Formats = reports.NewFormats[*lint.Report]().
	Register("text", writeText).
	Register("json", writeJSON).
	Register("sarif", writeSARIF).
	Register("junit", writeJUnit).
	Register("tap", writeTAP).
	Register("github", writeGitHub)

// rel shows a file relative to o.Cwd when it lies below it, stdin as
// <stdin>.
func rel(o reports.Options, file string) string {
	if file == "-" {
		return "<stdin>"
	}
	if o.Cwd != "" && filepath.IsAbs(file) {
		if r, err := filepath.Rel(o.Cwd, file); err == nil && !strings.HasPrefix(r, "..") {
			file = r
		}
	}
	return filepath.ToSlash(file)
}

func where(f lint.Finding, o reports.Options) string {
	return fmt.Sprintf("%s:%d", rel(o, f.File), f.Line)
}

func writeText(w io.Writer, rep *lint.Report, o reports.Options) error {
	paint := func(code, s string) string {
		if !o.Color {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	for _, f := range rep.Findings {
		level := paint("31;1", "DENY")
		if f.Severity == lint.Warn {
			level = paint("33", "WARN")
		}
		if f.Excepted != "" {
			level = paint("2", "EXCEPTED")
		}
		path := ""
		if f.Path != "" {
			path = " " + f.Path + ":"
		}
		fmt.Fprintf(w, "%s %s %s %s:%s %s\n", level, textsafe.Line(where(f, o)), textsafe.Line(f.Rule), textsafe.Line(f.Policy), textsafe.Line(path), textsafe.Line(f.Msg))
		if f.Excepted != "" {
			fmt.Fprintf(w, "    excepted: %s\n", textsafe.Line(f.Excepted))
		}
	}
	fmt.Fprintf(w, "%d policies, %d rules: %d deny, %d warn, %d excepted\n", rep.Policies, len(rep.Rules), rep.Count(lint.Deny), rep.Count(lint.Warn), excepted(rep))
	if line := viewLine(rep.Views); line != "" {
		fmt.Fprintln(w, line)
	}
	return nil
}

// viewLine says how the policies that apply to each policy's pods were
// found: from the workloads of flows with Cilium's matching, or from the
// selectors.
func viewLine(views map[string]int) string {
	var parts []string
	if n := views[lint.MethodFlows]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d by the workloads in the flows, matched by Cilium", n))
	}
	if n := views[lint.MethodSelectors]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d from the selectors (a policy whose selector is a subset of another's applies to its pods; --flows matches workloads instead)", n))
	}
	if len(parts) == 0 {
		return ""
	}
	return "policies judged with every policy that selects the same pods: " + strings.Join(parts, "; ")
}

func excepted(rep *lint.Report) int {
	n := 0
	for _, f := range rep.Findings {
		if f.Excepted != "" {
			n++
		}
	}
	return n
}

func writeJSON(w io.Writer, rep *lint.Report, o reports.Options) error {
	out := *rep
	out.Findings = make([]lint.Finding, len(rep.Findings))
	for i, f := range rep.Findings {
		f.File = rel(o, f.File)
		out.Findings[i] = f
	}
	if out.Findings == nil {
		out.Findings = []lint.Finding{}
	}
	b, err := json.MarshalIndent(struct {
		*lint.Report
		Deny     int `json:"deny"`
		Warn     int `json:"warn"`
		Excepted int `json:"excepted"`
	}{&out, rep.Count(lint.Deny), rep.Count(lint.Warn), excepted(rep)}, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// rulesOf lists the rules of the report plus the verification layers
// that produced findings, with their index for SARIF.
func rulesOf(rep *lint.Report) []lint.Rule {
	rs := append([]lint.Rule(nil), rep.Rules...)
	have := map[string]bool{}
	for _, r := range rs {
		have[r.ID] = true
	}
	verifyRules := map[string]lint.Rule{
		lint.RuleVerifySchema: {ID: lint.RuleVerifySchema, Title: "rejected by the API server", Severity: lint.Deny,
			Rationale: "The policy fails the validation the Kubernetes API server runs on the CiliumNetworkPolicy CRD: kubectl apply fails."},
		lint.RuleVerifyAgent: {ID: lint.RuleVerifyAgent, Title: "rejected by the Cilium agent", Severity: lint.Deny,
			Rationale: "The API server accepts the policy, but the Cilium agent's parser rejects it: the policy is silently not enforced."},
		lint.RuleVerifyOrg: {ID: lint.RuleVerifyOrg, Title: "violates an organisation schema", Severity: lint.Deny,
			Rationale: "The policy does not satisfy an organisation CUE schema given with --schemas."},
		lint.RuleUnreadable: {ID: lint.RuleUnreadable, Title: "a document that cannot be read", Severity: lint.Deny,
			Rationale: "The document is not valid YAML or JSON, or not a Kubernetes object: kubectl apply fails on it. The other documents of the set are still checked."},
		lint.RuleTemplate: {ID: lint.RuleTemplate, Title: "a template, not a manifest", Severity: lint.Deny,
			Rationale: "The document holds template actions ({{ … }}): what the cluster gets is what it renders to. Render it (helm template, or your templating tool) and lint the result."},
	}
	var extra []string
	for _, f := range rep.Findings {
		if !have[f.Rule] {
			have[f.Rule] = true
			extra = append(extra, f.Rule)
		}
	}
	sort.Strings(extra)
	for _, id := range extra {
		if r, ok := verifyRules[id]; ok {
			rs = append(rs, r)
		} else {
			rs = append(rs, lint.Rule{ID: id, Title: id, Severity: lint.Deny})
		}
	}
	return rs
}

func sarifLevel(s lint.Severity) string {
	if s == lint.Warn {
		return "warning"
	}
	return "error"
}

func writeSARIF(w io.Writer, rep *lint.Report, o reports.Options) error {
	type text struct {
		Text string `json:"text"`
	}
	type rule struct {
		ID                   string         `json:"id"`
		Name                 string         `json:"name,omitempty"`
		ShortDescription     text           `json:"shortDescription"`
		FullDescription      *text          `json:"fullDescription,omitempty"`
		Help                 *text          `json:"help,omitempty"`
		DefaultConfiguration map[string]any `json:"defaultConfiguration"`
		Properties           map[string]any `json:"properties,omitempty"`
	}
	rules := rulesOf(rep)
	index := map[string]int{}
	var srs []rule
	for i, r := range rules {
		index[r.ID] = i
		title := r.Title
		if title == "" {
			title = r.ID
		}
		sr := rule{ID: r.ID, Name: r.Package, ShortDescription: text{title},
			DefaultConfiguration: map[string]any{"level": sarifLevel(r.Severity)},
			Properties:           map[string]any{"tags": []string{"cilium", "network-policy"}}}
		if r.Rationale != "" {
			sr.FullDescription = &text{r.Rationale}
			sr.Help = &text{r.Rationale}
		}
		if r.File != "" {
			sr.Properties["source"] = fmt.Sprintf("%s:%d", r.File, r.Line)
		}
		srs = append(srs, sr)
	}
	results := []map[string]any{}
	for _, f := range rep.Findings {
		loc := map[string]any{
			"physicalLocation": map[string]any{
				"artifactLocation": map[string]any{"uri": rel(o, f.File)},
				"region":           map[string]any{"startLine": max(f.Line, 1)},
			},
		}
		name := f.Policy
		if f.Path != "" {
			name += "/" + f.Path
		}
		loc["logicalLocations"] = []map[string]any{{"name": f.Path, "fullyQualifiedName": f.Kind + " " + name, "kind": "member"}}
		res := map[string]any{
			"ruleId":    f.Rule,
			"ruleIndex": index[f.Rule],
			"level":     sarifLevel(f.Severity),
			"message":   text{fmt.Sprintf("%s: %s", f.Policy, f.Msg)},
			"locations": []any{loc},
			"partialFingerprints": map[string]string{
				"ppcFinding/v1": f.Rule + "|" + f.Kind + "|" + f.Policy + "|" + f.Path + "|" + f.Msg,
			},
		}
		if f.Excepted != "" {
			res["suppressions"] = []map[string]any{{"kind": "external", "status": "accepted", "justification": f.Excepted}}
		}
		results = append(results, res)
	}
	return reports.WriteSARIF(w, srs, results, o)
}

func writeJUnit(w io.Writer, rep *lint.Report, o reports.Options) error {
	// One suite per policy, one case per finding: deny findings fail,
	// excepted ones are skipped, warnings pass (they fail the gate only
	// with --fail-on warn).
	byPolicy := map[string][]lint.Finding{}
	var order []string
	for _, f := range rep.Findings {
		k := f.Kind + " " + f.Policy
		if _, ok := byPolicy[k]; !ok {
			order = append(order, k)
		}
		byPolicy[k] = append(byPolicy[k], f)
	}
	sort.Strings(order)
	doc := junit.Suites{Name: "ppc lint"}
	for _, k := range order {
		s := junit.Suite{Name: k}
		for _, f := range byPolicy[k] {
			tc := junit.Case{Name: f.Rule + " " + f.Path, Classname: rel(o, f.File)}
			m := &junit.Message{Message: f.Msg, Type: string(f.Severity), Text: fmt.Sprintf("%s %s %s: %s", where(f, o), f.Rule, f.Path, f.Msg)}
			switch {
			case f.Excepted != "":
				m.Message, m.Text = "excepted: "+f.Excepted, m.Text+"\nexcepted: "+f.Excepted
				tc.Skipped = m
			case f.Severity == lint.Deny:
				tc.Failure = m
			default:
				tc.Name += " (warning)"
			}
			s.Cases = append(s.Cases, tc)
		}
		doc.Suites = append(doc.Suites, s)
	}
	if len(doc.Suites) == 0 {
		doc.Suites = append(doc.Suites, junit.Suite{Name: fmt.Sprintf("%d policies", rep.Policies), Cases: []junit.Case{{Name: "no findings", Classname: "ppc lint"}}})
	}
	return junit.Write(w, doc)
}

// tapEscape keeps a TAP description on one line and away from "#"
// directives.
func tapEscape(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ", "#", `\#`).Replace(s)
}

func writeTAP(w io.Writer, rep *lint.Report, o reports.Options) error {
	n := len(rep.Findings)
	if n == 0 {
		_, err := fmt.Fprintf(w, "TAP version 13\n1..1\nok 1 - %d policies, no findings\n", rep.Policies)
		return err
	}
	fmt.Fprintf(w, "TAP version 13\n1..%d\n", n)
	for i, f := range rep.Findings {
		desc := tapEscape(fmt.Sprintf("%s %s %s %s: %s", where(f, o), f.Rule, f.Policy, f.Path, f.Msg))
		switch {
		case f.Excepted != "":
			fmt.Fprintf(w, "ok %d - %s # SKIP excepted: %s\n", i+1, desc, tapEscape(f.Excepted))
		case f.Severity == lint.Warn:
			// "# TODO" is TAP's directive for a known, not-yet-fixed
			// problem: consumers report it without failing the run, as
			// warnings do not fail the gate unless --fail-on warn.
			fmt.Fprintf(w, "ok %d - %s # TODO warning\n", i+1, desc)
		default:
			fmt.Fprintf(w, "not ok %d - %s\n", i+1, desc)
		}
	}
	return nil
}

// ghEscape escapes a workflow command's data (message) and, with prop,
// its property values.
func ghEscape(s string, prop bool) string {
	s = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
	if prop {
		s = strings.NewReplacer(":", "%3A", ",", "%2C").Replace(s)
	}
	return s
}

func writeGitHub(w io.Writer, rep *lint.Report, o reports.Options) error {
	for _, f := range rep.Findings {
		if f.Excepted != "" {
			continue
		}
		cmd := "error"
		if f.Severity == lint.Warn {
			cmd = "warning"
		}
		fmt.Fprintf(w, "::%s file=%s,line=%d,title=%s::%s\n", cmd, ghEscape(rel(o, f.File), true), max(f.Line, 1),
			ghEscape(f.Rule+" "+f.Policy, true), ghEscape(strings.TrimSpace(f.Path+" "+f.Msg), false))
	}
	fmt.Fprintf(w, "%d policies: %d deny, %d warn, %d excepted\n", rep.Policies, rep.Count(lint.Deny), rep.Count(lint.Warn), excepted(rep))
	return nil
}
