package lintreport

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/compiler/verify"
	"github.com/policypilot/ppc/internal/testutil"
	"github.com/policypilot/ppc/lint"
	"github.com/policypilot/ppc/reports"
)

const head = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: web
  namespace: shop
spec:
`

// findingsFixture lints a small set with a deny, a warning, a
// verification error and an excepted finding (lint's fixture_test.go
// checks those findings).
func findingsFixture(t testing.TB) *lint.Report {
	t.Helper()
	v, err := verify.New(verify.Options{Agent: agent.Defaults()})
	if err != nil {
		t.Fatal(err)
	}
	l, err := lint.New(context.Background(), lint.Options{Namespace: "default", Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	y := head + "  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - fromEntities: [world]\n" +
		"---\n" + strings.Replace(head, "name: web", "name: api", 1) + "  endpointSelector: {}\n  ingress:\n  - toPorts: [{ports: [{port: \"99999\", protocol: TCP}]}]\n" +
		"---\n" + strings.Replace(head, "name: web\n", "name: ok\n  annotations: {lint.ppc.policypilot.io/CIL001: \"public ingress, reviewed in SEC-42\"}\n", 1) +
		"  endpointSelector: {matchLabels: {app: lb}}\n  ingress:\n  - fromEntities: [world]\n"
	objs, ds := manifest.Parse("p.yaml", []byte(y))
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	rep, err := l.Lint(context.Background(), objs)
	if err != nil {
		t.Fatal(err)
	}
	rep.Files = 1
	return rep
}

func render(t testing.TB, rep *lint.Report, format string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Formats.Write(&b, format, rep, reports.Options{Version: "test"}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestSARIFSchema validates -o sarif against the OASIS SARIF 2.1.0 JSON
// schema (testdata/sarif, see its PROVENANCE.md) and checks what GitHub
// code scanning reads: rule metadata, levels, locations, suppressions.
func TestSARIFSchema(t *testing.T) {
	sch := testutil.SARIFSchema(t)
	out := render(t, findingsFixture(t), "sarif")
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("SARIF output is not valid SARIF 2.1.0: %v\n%s", err, out)
	}
	// With documents that could not be read (a template, not YAML): still
	// valid, each a result on its file with its rule described.
	_, unread := manifest.Parse("chart.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n---\nkey: [unclosed\n"))
	withBad := findingsFixture(t)
	withBad.Findings = append(lint.ReadFindings(unread), withBad.Findings...)
	outBad := render(t, withBad, "sarif")
	instBad, err := jsonschema.UnmarshalJSON(bytes.NewReader(outBad))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(instBad); err != nil {
		t.Fatalf("SARIF with read findings is not valid SARIF 2.1.0: %v\n%s", err, outBad)
	}
	for _, want := range []string{`"ruleId": "template"`, `"ruleId": "unreadable"`, `"uri": "chart.yaml"`, `a template, not a manifest`} {
		if !bytes.Contains(outBad, []byte(want)) {
			t.Errorf("SARIF lacks %s", want)
		}
	}
	// A SARIF log that breaks the schema must fail: the check can fail.
	bad, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"version":"2.1.0","runs":[{"tool":{"driver":{}}}]}`))
	if sch.Validate(bad) == nil {
		t.Fatal("the schema accepted a driver without a name")
	}
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID              string `json:"id"`
						FullDescription struct {
							Text string `json:"text"`
						} `json:"fullDescription"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Locations []struct {
					Physical struct {
						Artifact struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
				Suppressions []any `json:"suppressions"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(out, &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	if len(run.Results) != 4 {
		t.Fatalf("%d results", len(run.Results))
	}
	for _, r := range run.Results {
		rule := run.Tool.Driver.Rules[r.RuleIndex]
		if rule.ID != r.RuleID || rule.FullDescription.Text == "" {
			t.Errorf("result %s points at rule %+v", r.RuleID, rule)
		}
		if r.Locations[0].Physical.Artifact.URI != "p.yaml" || r.Locations[0].Physical.Region.StartLine < 1 {
			t.Errorf("location %+v", r.Locations[0])
		}
	}
	if run.Results[0].Level != "error" || run.Results[1].Level != "warning" || len(run.Results[3].Suppressions) != 1 {
		t.Errorf("levels/suppressions: %+v", run.Results)
	}
}

func TestOtherFormats(t *testing.T) {
	rep := findingsFixture(t)
	// JUnit parses as XML and fails the two deny findings.
	var ju struct {
		Suites []struct {
			Name     string `xml:"name,attr"`
			Failures int    `xml:"failures,attr"`
			Skipped  int    `xml:"skipped,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(render(t, rep, "junit"), &ju); err != nil {
		t.Fatal(err)
	}
	fails, skips := 0, 0
	for _, s := range ju.Suites {
		fails += s.Failures
		skips += s.Skipped
	}
	if fails != 2 || skips != 1 {
		t.Errorf("junit: %d failures, %d skipped: %+v", fails, skips, ju)
	}
	// TAP: a plan and one line per finding.
	tap := string(render(t, rep, "tap"))
	if !strings.HasPrefix(tap, "TAP version 13\n1..4\n") || strings.Count(tap, "\nnot ok ") != 2 || !strings.Contains(tap, "# SKIP excepted: annotation") || !strings.Contains(tap, "# TODO warning") {
		t.Errorf("tap:\n%s", tap)
	}
	// GitHub annotations: one per live finding, file and line set.
	gh := string(render(t, rep, "github"))
	if n := len(regexp.MustCompile(`(?m)^::(error|warning) file=p\.yaml,line=\d+,title=`).FindAllString(gh, -1)); n != 3 {
		t.Errorf("github annotations: %d\n%s", n, gh)
	}
	// JSON round-trips.
	var js struct {
		Findings []lint.Finding `json:"findings"`
		Deny     int            `json:"deny"`
	}
	if err := json.Unmarshal(render(t, rep, "json"), &js); err != nil || len(js.Findings) != 4 || js.Deny != 2 {
		t.Errorf("json: %v %+v", err, js)
	}
	// Text: colour only when asked.
	var b bytes.Buffer
	if err := Formats.Write(&b, "text", rep, reports.Options{Color: true}); err != nil || !strings.Contains(b.String(), "\x1b[31;1mDENY") {
		t.Errorf("coloured text: %q", b.String())
	}
	if plain := string(render(t, rep, "text")); strings.Contains(plain, "\x1b") || !strings.Contains(plain, "excepted: annotation lint.ppc.policypilot.io/CIL001: public ingress, reviewed in SEC-42") {
		t.Errorf("text:\n%s", plain)
	}
}

// TestGitHubEscaping: a message cannot start a new workflow command.
func TestGitHubEscaping(t *testing.T) {
	rep := &lint.Report{Policies: 1, Findings: []lint.Finding{{Rule: "x", Severity: lint.Deny, Policy: "a,b:c", File: "p.yaml", Line: 3, Msg: "line1\n::error file=evil::pwned %"}}}
	out := string(render(t, rep, "github"))
	if strings.Count(out, "\n::") != 0 || !strings.Contains(out, "line1%0A::error file=evil::pwned %25") || !strings.Contains(out, "title=x a%2Cb%3Ac::") {
		t.Errorf("github output:\n%s", out)
	}
}
