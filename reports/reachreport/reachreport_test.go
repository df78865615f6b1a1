package reachreport

import (
	"bytes"
	"strings"
	"testing"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/reports"
)

// Names come from the cluster: every format escapes them.
func TestHostileNames(t *testing.T) {
	r := &compiler.ReachResult{Workloads: []string{"a", "b"}, Pairs: []compiler.ReachPair{{
		Src: "=cmd|' /C calc'!A0", Dst: "ns/x\"] --> evil[\"<script>|`*_[l](u)",
		Allowed: []compiler.Service{{Protocol: "TCP", Port: 80}},
	}}}
	for _, tc := range []struct{ format, bad, good string }{
		{"csv", "\n=cmd", "'=cmd"},
		{"mermaid", `x"]`, "#quot;"},
		{"md", "<script>", "&lt;script&gt;"},
	} {
		var b bytes.Buffer
		if err := Formats.Write(&b, tc.format, r, reports.Options{}); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(b.String(), tc.bad) || !strings.Contains(b.String(), tc.good) {
			t.Errorf("%s:\n%s", tc.format, b.String())
		}
	}
}
