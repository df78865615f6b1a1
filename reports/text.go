package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/internal/textsafe"
	"github.com/policypilot/ppc/ir"
)

// PrintDiagnostics is the one place diagnostics are printed: a first line
// "severity: object: path: code: message", then the source positions and
// details indented below it. File paths are shown relative to cwd.
func PrintDiagnostics(w io.Writer, ds ir.Diagnostics, cwd string) {
	// Warnings of one code past maxWarningsPerCode are counted, not
	// printed one by one (500 workloads can give 500 fold notes); errors
	// are always printed. The report and --dump decisions list them all.
	shown, hidden := map[string]int{}, map[string]int{}
	for _, d := range ds {
		if d.Severity != ir.Error {
			if shown[d.Code] == maxWarningsPerCode {
				hidden[d.Code]++
				continue
			}
			shown[d.Code]++
		}
		var b strings.Builder
		b.WriteString(d.Severity.String())
		b.WriteString(": ")
		if d.Object != "" {
			b.WriteString(textsafe.Line(d.Object))
			b.WriteString(": ")
		}
		if len(d.Path) > 0 {
			b.WriteString(ir.JoinPath(d.Path))
			b.WriteString(": ")
		}
		b.WriteString(d.Code)
		b.WriteString(": ")
		b.WriteString(textsafe.Line(d.Msg))
		b.WriteByte('\n')
		if d.Pos.IsValid() {
			fmt.Fprintf(&b, "    %s\n", RelPos(d.Pos, cwd))
		}
		for _, p := range d.Related {
			if p != d.Pos {
				fmt.Fprintf(&b, "    %s\n", RelPos(p, cwd))
			}
		}
		for _, l := range d.Details {
			fmt.Fprintf(&b, "    %s\n", textsafe.Line(l))
		}
		io.WriteString(w, b.String())
	}
	codes := make([]string, 0, len(hidden))
	for c := range hidden {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		fmt.Fprintf(w, "warning: %s: and %d more like these (ppc compile --report lists every one; --dump decisions gives the rule packs' in JSON)\n", c, hidden[c])
	}
}

// maxWarningsPerCode is how many warnings of one code are printed.
const maxWarningsPerCode = 20

// RelPos shows a source position with its file relative to cwd when it
// lies below it ("./flows.json:3"), stdin as <stdin>.
func RelPos(p ir.Pos, cwd string) string {
	if p.File != "" && p.File != "-" && filepath.IsAbs(p.File) && cwd != "" {
		if r, err := filepath.Rel(cwd, p.File); err == nil && !strings.HasPrefix(r, "..") {
			p.File = r
		}
	}
	if p.File != "" && p.File != "-" && !filepath.IsAbs(p.File) && !strings.HasPrefix(p.File, ".") {
		p.File = "./" + filepath.ToSlash(p.File)
	}
	if p.File == "-" {
		p.File = "<stdin>"
	}
	return p.String()
}

// RelPath shows an absolute path (optionally with :line) relative to cwd
// when it lies below it, and any other path as it is.
func RelPath(p, cwd string) string {
	if cwd == "" || !filepath.IsAbs(p) {
		return p
	}
	if r, err := filepath.Rel(cwd, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// PrintSkipped prints the summary of skipped records by reason.
func PrintSkipped(w io.Writer, skipped map[string]int64) {
	if len(skipped) == 0 {
		return
	}
	reasons := make([]string, 0, len(skipped))
	var total int64
	for r, n := range skipped {
		reasons = append(reasons, r)
		total += n
	}
	sort.Slice(reasons, func(i, j int) bool {
		if skipped[reasons[i]] != skipped[reasons[j]] {
			return skipped[reasons[i]] > skipped[reasons[j]]
		}
		return reasons[i] < reasons[j]
	})
	fmt.Fprintf(w, "ppc: skipped %d records:\n", total)
	for _, r := range reasons {
		fmt.Fprintf(w, "  %8d  %s\n", skipped[r], r)
	}
}

// PrintProbeLine prints the over-allow ratio of a least-privilege probe.
func PrintProbeLine(w io.Writer, pr *replay.ProbeReport) {
	fmt.Fprintf(w, "ppc: probe: over-allow ratio %.2f%%: the policies allow %d of %d unobserved connections between the observed endpoints on the observed ports",
		100*pr.Ratio, pr.Allowed, pr.Checked)
	if pr.Sampled {
		fmt.Fprintf(w, " (a deterministic sample of the %d candidates; 95%% confidence: %.2f%%–%.2f%%)", pr.Candidates, 100*pr.Low, 100*pr.High)
	}
	if len(pr.ByPolicy) > 0 {
		top := pr.ByPolicy[0]
		fmt.Fprintf(w, "; most by %s (%d)", top.Policy, top.Allowed)
	}
	fmt.Fprintln(w)
}

// WriteJSON writes v as indented JSON and a newline.
func WriteJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
