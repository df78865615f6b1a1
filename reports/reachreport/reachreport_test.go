package reachreport

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/internal/testutil"
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

// TestGolden: every format of one result (testdata/reach; PPC_UPDATE=1
// rewrites them).
func TestGolden(t *testing.T) {
	r := &compiler.ReachResult{
		Workloads: []string{"shop/api", "shop/db", "shop/web"},
		Pairs: []compiler.ReachPair{
			{Src: "shop/api", Dst: "shop/db", Allowed: []compiler.Service{{Protocol: "TCP", Port: 5432}}, Observed: true},
			{Src: "ops/backup", Dst: "shop/db", Allowed: []compiler.Service{{Protocol: "TCP", Port: 5432}}, CrossNamespace: true},
			{Src: "shop/web", Dst: "shop/api", Allowed: []compiler.Service{{Protocol: "TCP", Port: 8080}, {Protocol: "TCP", Port: 9090}}, Observed: true},
			{Src: "shop/web", Dst: "shop/db", Allowed: []compiler.Service{{Protocol: "TCP", Port: 5432}}},
		},
		World:  []compiler.ReachPair{{Src: "world", Dst: "shop/web", Allowed: []compiler.Service{{Protocol: "TCP", Port: 443}}, Observed: true}},
		Loaded: 3, Exposure: true, Method: "flows",
	}
	for _, f := range Formats.Names() {
		var b bytes.Buffer
		if err := Formats.Write(&b, f, r, reports.Options{}); err != nil {
			t.Fatal(err)
		}
		testutil.Golden(t, filepath.Join(testutil.Testdata(), "reach", "reach."+f), b.Bytes())
	}
}
