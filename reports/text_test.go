package reports

import (
	"bytes"
	"strings"
	"testing"

	"github.com/policypilot/ppc/ir"
)

// TestPrintDiagnosticsCaps: past 20 warnings of one code the rest are
// counted in one line; errors and other codes are always printed.
func TestPrintDiagnosticsCaps(t *testing.T) {
	var ds ir.Diagnostics
	for range 25 {
		ds = append(ds, ir.Warnf("ppc_decision_warning", ir.Pos{}, "a fold"))
	}
	for range 3 {
		ds = append(ds, ir.Errorf("ppc_replay_denied", ir.Pos{}, "denied"))
	}
	ds = append(ds, ir.Warnf("ppc_other", ir.Pos{}, "other"))
	var b bytes.Buffer
	PrintDiagnostics(&b, ds, "")
	out := b.String()
	if n := strings.Count(out, "a fold"); n != 20 {
		t.Errorf("%d fold warnings printed, want 20", n)
	}
	if !strings.Contains(out, "warning: ppc_decision_warning: and 5 more like these") {
		t.Errorf("no count of the rest:\n%s", out)
	}
	if strings.Count(out, "error: ppc_replay_denied: denied") != 3 || !strings.Contains(out, "other") {
		t.Errorf("errors or other warnings dropped:\n%s", out)
	}
}
