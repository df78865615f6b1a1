package rules

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// terms is the bindings of a query that bound the fields of the JSON
// object doc, as the decision query's evaluation gives them (terms).
func terms(t *testing.T, doc string) map[string]any {
	t.Helper()
	v, err := ast.ParseTerm(doc)
	if err != nil {
		t.Fatal(err)
	}
	return bindings(v.Value.(ast.Object))
}

// bindings is each field of o as a binding.
func bindings(o ast.Object) map[string]any {
	b := map[string]any{}
	o.Foreach(func(k, v *ast.Term) { b[string(k.Value.(ast.String))] = v })
	return b
}

func TestDecodeDecisions(t *testing.T) {
	good := `{"policies": {"shop/web": {"namespace": "shop", "name": "web", "selector": {"app": "web"}, "subjects": ["shop/web"],
		"labels": {}, "ingress": [{"fromEntities": ["world"], "icmps": [{"fields": [{"type": 8}]}]}], "ingress_edges": ["e1"], "egress_edges": []}},
		"excluded": {"e2": "why"}, "warnings": [{"msg": "b", "policy": "p"}, {"msg": "a", "policy": "p"}], "deny": [], "warn": [{"msg": "w", "object": "o"}]}`
	d, err := decodeDecisions(terms(t, good))
	if err != nil {
		t.Fatal(err)
	}
	p := d.Policies["shop/web"]
	if p == nil || p.Name != "web" || p.Selector["app"] != "web" || len(p.Ingress) != 1 || p.Egress != nil || len(p.IngressEdges) != 1 {
		t.Fatalf("policy %+v", p)
	}
	if got := string(p.Ingress[0]); got != `{"fromEntities":["world"],"icmps":[{"fields":[{"type":8}]}]}` {
		t.Errorf("rule JSON %s", got)
	}
	if d.Excluded["e2"] != "why" || len(d.Warnings) != 2 || d.Warnings[0].Msg != "a" || len(d.Warn) != 1 || len(d.Deny) != 0 {
		t.Errorf("decisions %+v", d)
	}

	for _, tc := range []struct {
		name string
		b    map[string]any
		want string
	}{
		{"unknown policy field", map[string]any{"policies": map[string]any{"a/b": map[string]any{"namespace": "a", "ingres": []any{}}}}, `policies["a/b"].ingres: not a field of a policy decision`},
		{"selector value not a string", map[string]any{"policies": map[string]any{"a/b": map[string]any{"selector": map[string]any{"app": json.Number("1")}}}}, `policies["a/b"].selector.app: want a string, got a number`},
		{"rule not an object", map[string]any{"policies": map[string]any{"a/b": map[string]any{"egress": []any{"x"}}}}, `policies["a/b"].egress[0]: want a rule object, got a string`},
		{"policies not an object", map[string]any{"policies": []any{}}, `policies: want an object, got an array`},
		{"excluded reason not a string", map[string]any{"excluded": map[string]any{"e": true}}, `excluded.e: want a string, got a boolean`},
		{"finding field unknown", map[string]any{"deny": []any{map[string]any{"msg": "m", "severity": "x"}}}, `deny[0].severity: not a field of a finding`},
		{"finding not an object", map[string]any{"warn": []any{"m"}}, `warn[0]: want an object, got a string`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ast.InterfaceToValue(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			_, err = decodeDecisions(bindings(b.(ast.Object)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestAppendJSON holds the rule encoder to what encoding/json writes for
// the Go value OPA converts a term to (the encoding rules had before the
// terms were read directly): key order, escaping, sets, numbers.
func TestAppendJSON(t *testing.T) {
	for _, doc := range []string{
		`{"toEndpoints": [{"matchLabels": {"app": "web", "k8s:io.kubernetes.pod.namespace": "shop"}}], "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}]}`,
		`{"b": 1, "a": [1.5, -2, 1e3, 12345678901234567890], "c": null, "d": true, "e": false}`,
		`{"html": "<a href=\"x\">&amp;</a>", "ctl": "tab\there\u0001", "uni": "naïve ☃ \u2028 \u2029", "back": "a\\b", "empty": ""}`,
		`{"set": {"z", "a", "m"}, "nested": {"x": {"y": [{"k": {1, 2}}]}}, "": "empty key"}`,
		`{"rules": {"http": [{"method": "GET", "path": "^/v1/items/[0-9]+(\\?.*)?$"}]}}`,
	} {
		v := ast.MustParseTerm(doc).Value
		got, err := appendJSON(nil, v)
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		x, err := ast.JSON(v)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s:\ngot  %s\nwant %s", doc, got, want)
		}
	}
	for _, s := range []string{"\xff\xfe", "ok\x80"} { // not UTF-8: replaced as encoding/json does
		got := appendString(nil, s)
		want, _ := json.Marshal(s)
		if string(got) != string(want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
	if _, err := appendJSON(nil, ast.MustParseTerm(`{1: "x"}`).Value); err == nil || !strings.Contains(err.Error(), "not a string") {
		t.Errorf("a key that is not a string: err = %v", err)
	}
}
