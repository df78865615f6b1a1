// Package verifyreport owns the output formats of ppc verify: the text
// listing and summary, and the JSON report.
package verifyreport

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/compiler/verify"
	"github.com/policypilot/ppc/internal/textsafe"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/reports"
)

// Result is what ppc verify reports: the verification, the documents that
// could not be read, and the number of files read.
type Result struct {
	Report      *verify.Report
	InputErrors ir.Diagnostics
	Files       int
}

// Formats are ppc verify's -o values. text lists the invalid policies
// (with Options.Verbose, every one); the summary and diagnostics go to
// stderr through Summary and reports.PrintDiagnostics.
var Formats = reports.NewFormats[*Result]().
	Register("text", func(w io.Writer, r *Result, o reports.Options) error {
		List(w, r.Report, o.Verbose, o.Cwd)
		return nil
	}).
	Register("json", func(w io.Writer, r *Result, o reports.Options) error {
		return reports.WriteJSON(w, jsonReport(r.Report, r.InputErrors, r.Files, o.Cwd))
	})

// agentWarning follows a policy only the agent rejects.
const agentWarning = "kubectl apply succeeds, but the Cilium agent rejects this policy and does NOT enforce it"

// List lists every invalid policy (every policy with verbose) with its errors, one per line,
// layer first.
func List(w io.Writer, rep *verify.Report, verbose bool, cwd string) {
	for _, r := range rep.Results {
		o := r.Object
		where := reports.RelPos(o.Pos, cwd) + docSuffix(o)
		if r.Valid() {
			if verbose {
				fmt.Fprintf(w, "%s: %s: valid\n", where, textsafe.Line(o.ID()))
			}
			continue
		}
		fmt.Fprintf(w, "%s: %s: INVALID\n", where, textsafe.Line(o.ID()))
		for _, d := range r.Diagnostics {
			path := ""
			if len(d.Path) > 0 {
				path = ir.JoinPath(d.Path) + ": "
			}
			fmt.Fprintf(w, "    %-6s %s%s\n", verify.LayerOf(d), textsafe.Line(path), textsafe.Line(d.Msg))
		}
		if r.AgentOnly() {
			fmt.Fprintf(w, "    %s\n", agentWarning)
		}
	}
}

func docSuffix(o manifest.Object) string {
	s := fmt.Sprintf(" (document %d", o.Doc)
	if o.Item > 0 {
		s += fmt.Sprintf(", item %d", o.Item)
	}
	return s + ")"
}

// Summary is the one-line summary (and the agent-only warning) of a
// verification of the policies of files files.
func Summary(w io.Writer, rep *verify.Report, files int) {
	n := len(rep.Results)
	fmt.Fprintf(w, "ppc verify: %d policies in %d files: %d valid, %d invalid", n, files, n-rep.Invalid(), rep.Invalid())
	if by := rep.ByLayer(); len(by) > 0 {
		var parts []string
		for _, l := range []verify.Layer{verify.LayerSchema, verify.LayerAgent, verify.LayerOrg} {
			if by[l] > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", l, by[l]))
			}
		}
		fmt.Fprintf(w, " (%s)", strings.Join(parts, ", "))
	}
	if len(rep.Skipped) > 0 {
		total := 0
		var kinds []string
		for k, c := range rep.Skipped {
			total += c
			kinds = append(kinds, fmt.Sprintf("%s %d", k, c))
		}
		sort.Strings(kinds)
		fmt.Fprintf(w, "; %d objects of other kinds skipped (%s)", total, strings.Join(kinds, ", "))
	}
	fmt.Fprintln(w)
	if a := rep.AgentOnly(); a > 0 {
		fmt.Fprintf(w, "ppc verify: %d policies pass the API server but are rejected by the Cilium agent: kubectl apply succeeds and they are NOT enforced\n", a)
	}
}

// jsonReport is the machine-readable report of ppc verify -o json.
func jsonReport(rep *verify.Report, inputErrs ir.Diagnostics, files int, cwd string) any {
	type jerr struct {
		Layer   string   `json:"layer"`
		Path    string   `json:"path,omitempty"`
		Message string   `json:"message"`
		Details []string `json:"details,omitempty"`
	}
	type jpol struct {
		File       string `json:"file"`
		Line       int    `json:"line"`
		Document   int    `json:"document"`
		Item       int    `json:"item,omitempty"`
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Namespace  string `json:"namespace,omitempty"`
		Name       string `json:"name"`
		Valid      bool   `json:"valid"`
		// AgentOnly: accepted by the API server, rejected by the agent.
		AgentOnly bool   `json:"agentOnly"`
		Errors    []jerr `json:"errors"`
	}
	type jdiag struct {
		File    string `json:"file"`
		Line    int    `json:"line"`
		Message string `json:"message"`
	}
	out := struct {
		Summary struct {
			Files    int            `json:"files"`
			Policies int            `json:"policies"`
			Valid    int            `json:"valid"`
			Invalid  int            `json:"invalid"`
			ByLayer  map[string]int `json:"invalidByLayer"`
			Skipped  map[string]int `json:"skippedKinds"`
		} `json:"summary"`
		Policies    []jpol  `json:"policies"`
		Warnings    []jdiag `json:"warnings"`
		InputErrors []jdiag `json:"inputErrors"`
	}{Policies: []jpol{}, Warnings: []jdiag{}, InputErrors: []jdiag{}}
	out.Summary.Files = files
	out.Summary.Policies = len(rep.Results)
	out.Summary.Invalid = rep.Invalid()
	out.Summary.Valid = len(rep.Results) - rep.Invalid()
	out.Summary.ByLayer = map[string]int{}
	for l, n := range rep.ByLayer() {
		out.Summary.ByLayer[string(l)] = n
	}
	out.Summary.Skipped = rep.Skipped
	file := func(p ir.Pos) string {
		s := reports.RelPos(ir.Pos{File: p.File}, cwd)
		return s
	}
	for _, r := range rep.Results {
		o := r.Object
		jp := jpol{File: file(o.Pos), Line: o.Pos.Line, Document: o.Doc, Item: o.Item, APIVersion: o.APIVersion, Kind: o.Kind,
			Namespace: o.Namespace, Name: o.Name, Valid: r.Valid(), Errors: []jerr{},
			AgentOnly: r.AgentOnly()}
		for _, d := range r.Diagnostics {
			jp.Errors = append(jp.Errors, jerr{Layer: string(verify.LayerOf(d)), Path: ir.JoinPath(d.Path), Message: d.Msg, Details: d.Details})
		}
		out.Policies = append(out.Policies, jp)
	}
	for _, d := range rep.Warnings {
		out.Warnings = append(out.Warnings, jdiag{File: file(d.Pos), Line: d.Pos.Line, Message: d.Msg})
	}
	for _, d := range inputErrs {
		out.InputErrors = append(out.InputErrors, jdiag{File: file(d.Pos), Line: d.Pos.Line, Message: d.Object + ": " + d.Msg})
	}
	return out
}
