package rules

import (
	"context"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// packLabels evaluates the default pack's own parse of labels (its
// identity.k8s_labels of a node without k8s_labels); ok is false when
// the pack rejects them.
type packLabels func(labels []string) (ast.Value, bool)

func newPackLabels(t testing.TB) packLabels {
	eng, err := NewEngine(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	pq, err := rego.New(append([]func(*rego.Rego){rego.Query("x := data.ppc.identity.k8s_labels(input)")}, eng.args...)...).PrepareForEval(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return func(labels []string) (ast.Value, bool) {
		ls := make([]*ast.Term, len(labels))
		for i, l := range labels {
			ls[i] = ast.StringTerm(l)
		}
		in := ast.NewObject(ast.Item(ast.StringTerm("kind"), ast.StringTerm("workload")), ast.Item(ast.StringTerm("labels"), ast.ArrayTerm(ls...)))
		rs, err := pq.Eval(context.Background(), rego.EvalParsedInput(in), rawTerms)
		if err != nil || len(rs) != 1 {
			return nil, false
		}
		return value(rs[0].Bindings["x"]), true
	}
}

// k8sLabelCases are label lists whose parse must be the pack's; left:
// ppc leaves them to the pack's parse.
var k8sLabelCases = []struct {
	labels []string
	left   bool
}{
	{nil, false},
	{[]string{"k8s:app=web", "k8s:io.kubernetes.pod.namespace=shop"}, false},
	{[]string{"k8s:a=b=c"}, false},             // the value holds "="
	{[]string{"k8s:=x", "k8s:novalue"}, false}, // no key, no "=": not labels
	{[]string{"k8s:empty="}, false},            // an empty value is one
	{[]string{"reserved:host", "container:x=y", "k8s:app=web", "k8s", "app=web"}, false},
	{[]string{"k8s:ü=ñ", "k8s:app.kubernetes.io/name=web"}, false},
	{[]string{"k8s:app=a", "k8s:app=a"}, false}, // repeated, the same value
	{[]string{"k8s:app=a", "k8s:app=b"}, true},  // one key, two values: the pack rejects them
	{[]string{"k8s:app=\x87", "k8s:x=y"}, true}, // not UTF-8: Rego reads code points
	{[]string{"reserved:\xff", "k8s:x=y"}, false},
}

// TestK8sLabelsAsThePackParses: the k8s_labels ppc puts in a workload's
// input are the labels as the default pack would parse them without it;
// labels the pack rejects, or that are not UTF-8, are left to the pack.
func TestK8sLabelsAsThePackParses(t *testing.T) {
	parse := newPackLabels(t)
	for _, c := range k8sLabelCases {
		if got := checkK8sLabels(t, parse, c.labels); (got == nil) != c.left {
			t.Errorf("%q: left to the pack %v, want %v", c.labels, got == nil, c.left)
		}
	}
}

// checkK8sLabels checks ppc's parse of labels against the pack's and
// returns it: nil (left to the pack) or what the pack gives.
func checkK8sLabels(t *testing.T, parse packLabels, labels []string) ast.Object {
	t.Helper()
	want, ok := parse(labels)
	got := k8sLabels(labels)
	switch {
	case !ok && got != nil:
		t.Errorf("%q: the pack rejects the labels, ppc gives %v", labels, got)
	case got != nil && got.Compare(want) != 0:
		t.Errorf("%q: ppc gives %v, the pack %v", labels, got, want)
	}
	return got
}

// FuzzK8sLabels: ppc's parse of any labels is the default pack's, or is
// left to it.
func FuzzK8sLabels(f *testing.F) {
	for _, c := range k8sLabelCases {
		if len(c.labels) >= 2 {
			f.Add(c.labels[0], c.labels[1])
		}
	}
	f.Add("k8s:a=b", "k8s:a=\x87")
	parse := newPackLabels(f)
	f.Fuzz(func(t *testing.T, a, b string) {
		checkK8sLabels(t, parse, []string{a, b})
	})
}
