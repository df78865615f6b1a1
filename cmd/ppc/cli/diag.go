package cli

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/policypilot/ppc/internal/textsafe"
	"github.com/policypilot/ppc/ir"
)

// printDiagnostics is the one place diagnostics are printed: a first line
// "severity: object: path: code: message", then the source positions and
// details indented below it. File paths are shown relative to cwd.
func printDiagnostics(w io.Writer, ds ir.Diagnostics, cwd string) {
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
			fmt.Fprintf(&b, "    %s\n", relPos(d.Pos, cwd))
		}
		for _, p := range d.Related {
			if p != d.Pos {
				fmt.Fprintf(&b, "    %s\n", relPos(p, cwd))
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

func relPos(p ir.Pos, cwd string) string {
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

// printSkipped prints the summary of skipped records by reason.
func printSkipped(w io.Writer, skipped map[string]int64) {
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
