// Package rulesreport owns the output formats of ppc rules: the results
// of a pack's Rego tests with their coverage, and the listing of every
// rule, each as text and JSON.
package rulesreport

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/policypilot/ppc/internal/textsafe"
	"github.com/policypilot/ppc/reports"
	"github.com/policypilot/ppc/rules/packtool"
)

// TestRun is what `ppc rules test` produced.
type TestRun struct {
	Results []packtool.TestResult
	// Coverage is shown when set (--coverage).
	Coverage *packtool.Coverage
}

// Failed counts the tests that failed (skipped ones are not failures).
func (r *TestRun) Failed() int {
	n := 0
	for _, x := range r.Results {
		if !x.Pass && !x.Skipped {
			n++
		}
	}
	return n
}

// TestFormats are `ppc rules test`'s -o values. text lists the tests that
// did not pass (with Options.Verbose, every one) and a count.
var TestFormats = reports.NewFormats[*TestRun]().
	Register("text", func(w io.Writer, r *TestRun, o reports.Options) error { return r.text(w, o) }).
	Register("json", func(w io.Writer, r *TestRun, _ reports.Options) error {
		return reports.WriteJSON(w, struct {
			Tests    []packtool.TestResult `json:"tests"`
			Failed   int                   `json:"failed"`
			Coverage *packtool.Coverage    `json:"coverage,omitempty"`
		}{r.Results, r.Failed(), r.Coverage})
	})

func (r *TestRun) text(w io.Writer, o reports.Options) error {
	for _, x := range r.Results {
		status := "PASS"
		switch {
		case x.Skipped:
			status = "SKIP"
		case !x.Pass:
			status = "FAIL"
		}
		if status == "PASS" && !o.Verbose {
			continue
		}
		fmt.Fprintf(w, "%s %s %s.%s (%v)\n", status, x.Location, x.Package, x.Name, x.Duration.Round(1000))
		if x.Message != "" && x.Message != "fail" {
			fmt.Fprintf(w, "    %s\n", x.Message)
		}
		if x.Output != "" && status == "FAIL" {
			fmt.Fprintf(w, "    %s\n", strings.ReplaceAll(strings.TrimSpace(x.Output), "\n", "\n    "))
		}
	}
	failed := r.Failed()
	fmt.Fprintf(w, "%d tests: %d passed, %d failed\n", len(r.Results), len(r.Results)-failed, failed)
	if r.Coverage == nil {
		return nil
	}
	files := make([]string, 0, len(r.Coverage.Files))
	for f := range r.Coverage.Files {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		fmt.Fprintf(w, "coverage %6.1f%%  %s\n", r.Coverage.Files[f], textsafe.Line(reports.RelPath(f, o.Cwd)))
	}
	_, err := fmt.Fprintf(w, "coverage %6.1f%%  total\n", r.Coverage.Percent)
	return err
}

// ListFormats are `ppc rules list`'s -o values: a table, or JSON.
var ListFormats = reports.NewFormats[[]packtool.Entry]().
	Register("text", func(w io.Writer, entries []packtool.Entry, o reports.Options) error {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTAGE\tSEVERITY\tSOURCE\tTITLE")
		for _, x := range entries {
			sev := x.Severity
			if sev == "" {
				sev = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.ID, x.Stage, sev, textsafe.Line(reports.RelPath(x.Source, o.Cwd)), textsafe.Line(x.Title))
		}
		return tw.Flush()
	}).
	Register("json", func(w io.Writer, entries []packtool.Entry, _ reports.Options) error {
		return reports.WriteJSON(w, entries)
	})
