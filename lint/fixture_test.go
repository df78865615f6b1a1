package lint

import (
	"strings"
	"testing"
)

// findingsFixture lints a small set with a deny, a warning, a verification
// error and an excepted finding.
func findingsFixture(t testing.TB) *Report {
	t.Helper()
	l := newLinter(t, true)
	y := head + "  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - fromEntities: [world]\n" +
		"---\n" + strings.Replace(head, "name: web", "name: api", 1) + "  endpointSelector: {}\n  ingress:\n  - toPorts: [{ports: [{port: \"99999\", protocol: TCP}]}]\n" +
		"---\n" + strings.Replace(head, "name: web\n", "name: ok\n  annotations: {lint.ppc.policypilot.io/CIL001: \"public ingress, reviewed in SEC-42\"}\n", 1) +
		"  endpointSelector: {matchLabels: {app: lb}}\n  ingress:\n  - fromEntities: [world]\n"
	rep := lintYAML(t, l, y)
	rep.Files = 1
	return rep
}

func TestFixtureFindings(t *testing.T) {
	rep := findingsFixture(t)
	var got []string
	for _, f := range rep.Findings {
		s := f.Rule + " " + f.Policy + " " + string(f.Severity)
		if f.Excepted != "" {
			s += " excepted"
		}
		got = append(got, s)
	}
	want := []string{"CIL001 shop/web deny", "CIL002 shop/api warn", "verify-agent shop/api deny", "CIL001 shop/ok deny excepted"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("findings %q, want %q", got, want)
	}
	if rep.Count(Deny) != 2 || rep.Count(Warn) != 1 {
		t.Errorf("deny %d warn %d", rep.Count(Deny), rep.Count(Warn))
	}
}
