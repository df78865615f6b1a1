package diffreport

import (
	"bytes"
	"strings"
	"testing"

	"github.com/policypilot/ppc/compiler/policydiff"
	"github.com/policypilot/ppc/reports"
)

// TestMarkdownEscapes: names and rules come from the cluster; none can
// break out of a table cell, a code span or the diff fence.
func TestMarkdownEscapes(t *testing.T) {
	d := &Diff{Old: "main:pol/", New: "pol/", Result: &policydiff.Result{
		Policies: []policydiff.Policy{{Kind: "CiliumNetworkPolicy", Namespace: "shop", Name: "a`b", Status: policydiff.Changed, New: "pol/a.yaml",
			AddedRules: []policydiff.Rule{{Section: "ingress", Selector: "endpointSelector {}", Rule: "{\"x\":\"```\\n# owned\"}"}}}},
		Verdicts: []policydiff.VerdictChange{{Src: "a|b", Dst: "<img src=x>", Proto: "TCP", Port: 80, Flows: 1, NowAllowed: true}},
		Replayed: 1,
	}}
	var b bytes.Buffer
	if err := Formats.Write(&b, "md", d, reports.Options{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{"a`b`", "```\\n# owned", "<img", "| a|b |"} {
		if strings.Contains(out, bad) {
			t.Errorf("unescaped %q in:\n%s", bad, out)
		}
	}
	if strings.Count(out, "```") != 2 {
		t.Errorf("the diff fence was broken:\n%s", out)
	}
	if !strings.Contains(out, `a\|b`) || !strings.Contains(out, "&lt;img") {
		t.Errorf("escapes missing:\n%s", out)
	}
}
