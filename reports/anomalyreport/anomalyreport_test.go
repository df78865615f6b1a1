package anomalyreport

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/internal/testutil"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/reports"
	"github.com/policypilot/ppc/rules"
)

// fixture: a scan with samples (one in a file below the working
// directory), an organisation's finding with neither subject nor samples,
// and cluster data that tries to break out of its string.
func fixture() Report {
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	return Report{
		Anomalies: &compiler.AnomalyReport{Findings: []compiler.Anomaly{
			{Anomaly: rules.Anomaly{Detector: "scan", Score: 91, Subject: "wl:shop/probe#1234", Msg: "shop/probe tried 12 destinations \"</script>\x1b[31m", Edges: []string{"e1", "e2"}},
				Evidence: compiler.Evidence{Dropped: 28, FirstSeen: t0, LastSeen: t0.Add(time.Minute), Samples: []ir.Pos{{File: "/work/flows/probe.json", Line: 99}, {File: "-", Line: 3}}}},
			{Anomaly: rules.Anomaly{Detector: "org-rule", Score: 30, Msg: "ours"}},
			{Anomaly: rules.Anomaly{Detector: "single_port", Score: 15, Subject: "wl:shop/db#5678", Msg: "TCP/4444 once", Edges: []string{"e3"}},
				Evidence: compiler.Evidence{Connections: 1}},
		}},
		Recommendations: []compiler.Recommendation{{Kind: compiler.RecPortLimit, Policy: "shop/db", Msg: "shop/db: spec.ingress[0].toPorts[0] lists 35 ports"}},
	}
}

func render(t *testing.T, r Report, format string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Formats.Write(&b, format, r, reports.Options{Cwd: "/work", Version: "v0.0.0-test"}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestSARIFSchema: the anomalies' SARIF validates against SARIF 2.1.0,
// with and without findings; levels follow the score, samples are
// locations relative to the working directory.
func TestSARIFSchema(t *testing.T) {
	for _, r := range []Report{fixture(), {}} {
		testutil.ValidSARIF(t, render(t, r, "sarif"))
	}
	var log struct {
		Runs []struct {
			Results []struct {
				RuleID    string  `json:"ruleId"`
				Level     string  `json:"level"`
				Rank      float64 `json:"rank"`
				Locations []struct {
					Physical *struct {
						Artifact struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(render(t, fixture(), "sarif"), &log); err != nil {
		t.Fatal(err)
	}
	rs := log.Runs[0].Results
	if len(rs) != 3 || rs[0].Level != "error" || rs[1].Level != "warning" || rs[2].Level != "note" || rs[0].Rank != 91 {
		t.Errorf("levels and ranks: %+v", rs)
	}
	if uri := rs[0].Locations[0].Physical.Artifact.URI; uri != "flows/probe.json" {
		t.Errorf("sample URI %q, want flows/probe.json", uri)
	}
	if rs[0].Locations[1].Physical.Artifact.URI != "stdin" {
		t.Errorf("stdin sample: %+v", rs[0].Locations[1])
	}
}

// TestTextAndJSON: text is one line per finding with its samples, terminal
// escapes from the cluster neutralised; JSON round-trips.
func TestTextAndJSON(t *testing.T) {
	txt := string(render(t, fixture(), "text"))
	if strings.Contains(txt, "\x1b") {
		t.Errorf("escape sequence reached the terminal: %q", txt)
	}
	for _, want := range []string{" 91.0  scan ", "       at ./flows/probe.json:99", "recommendation (port_limit): shop/db"} {
		if !strings.Contains(txt, want) {
			t.Errorf("text lacks %q:\n%s", want, txt)
		}
	}
	if got := string(render(t, Report{}, "text")); got != "no anomaly found\n" {
		t.Errorf("empty text %q", got)
	}
	var back Report
	if err := json.Unmarshal(render(t, fixture(), "json"), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Anomalies.Findings) != 3 || back.Anomalies.Findings[0].Evidence.Dropped != 28 || back.Recommendations[0].Kind != compiler.RecPortLimit {
		t.Errorf("JSON round trip: %+v", back)
	}
	if !strings.Contains(string(render(t, Report{}, "json")), `"findings": []`) {
		t.Error("an empty report must list no findings as [], not null")
	}
}
