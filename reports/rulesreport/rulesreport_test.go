package rulesreport

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/policypilot/ppc/reports"
	"github.com/policypilot/ppc/rules/packtool"
)

func run() *TestRun {
	return &TestRun{Results: []packtool.TestResult{
		{Name: "test_ok", Package: "ppc.x_test", Location: "x_test.rego:3", Pass: true, Duration: time.Millisecond},
		{Name: "test_bad", Package: "ppc.x_test", Location: "x_test.rego:7", Message: "fail", Output: "got 1\nwant 2\n"},
		{Name: "test_skip", Package: "ppc.x_test", Location: "x_test.rego:9", Skipped: true},
	}}
}

func TestTestText(t *testing.T) {
	for _, tc := range []struct {
		name     string
		verbose  bool
		coverage bool
		want     []string
		not      []string
	}{
		{name: "failures only", want: []string{"FAIL x_test.rego:7 ppc.x_test.test_bad", "    got 1\n    want 2", "SKIP x_test.rego:9", "3 tests: 2 passed, 1 failed"}, not: []string{"PASS", "coverage"}},
		{name: "verbose", verbose: true, want: []string{"PASS x_test.rego:3 ppc.x_test.test_ok (1ms)"}},
		{name: "coverage", coverage: true, want: []string{"coverage   50.0%  rules/x.rego", "coverage   75.0%  total"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run()
			if tc.coverage {
				r.Coverage = &packtool.Coverage{Percent: 75, Files: map[string]float64{"/src/rules/x.rego": 50}}
			}
			var b bytes.Buffer
			if err := TestFormats.Write(&b, "text", r, reports.Options{Cwd: "/src", Verbose: tc.verbose}); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("missing %q in:\n%s", w, b.String())
				}
			}
			for _, w := range tc.not {
				if strings.Contains(b.String(), w) {
					t.Errorf("unexpected %q in:\n%s", w, b.String())
				}
			}
		})
	}
}

func TestTestJSON(t *testing.T) {
	var b bytes.Buffer
	if err := TestFormats.Write(&b, "json", run(), reports.Options{}); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Tests    []packtool.TestResult `json:"tests"`
		Failed   int                   `json:"failed"`
		Coverage *packtool.Coverage    `json:"coverage"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Tests) != 3 || got.Failed != 1 || got.Coverage != nil {
		t.Errorf("got %+v", got)
	}
	if err := TestFormats.Check("sarif"); err == nil || !strings.Contains(err.Error(), "want text or json") {
		t.Errorf("Check(sarif) = %v", err)
	}
}

func TestListText(t *testing.T) {
	var b bytes.Buffer
	entries := []packtool.Entry{
		{ID: "CIL001", Stage: "lint", Severity: "deny", Title: "world on every port", Source: "/src/lint/packs/default/cil001.rego:9"},
		{ID: "ppc.synth.policies", Stage: "synth", Source: "default/synth.rego:390"},
	}
	if err := ListFormats.Write(&b, "text", entries, reports.Options{Cwd: "/src"}); err != nil {
		t.Fatal(err)
	}
	want := "ID                  STAGE  SEVERITY  SOURCE                            TITLE\n" +
		"CIL001              lint   deny      lint/packs/default/cil001.rego:9  world on every port\n" +
		"ppc.synth.policies  synth  -         default/synth.rego:390            \n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
