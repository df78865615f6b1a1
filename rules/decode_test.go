package rules

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDecodeDecisions(t *testing.T) {
	good := `{"policies": {"shop/web": {"namespace": "shop", "name": "web", "selector": {"app": "web"}, "subjects": ["shop/web"],
		"labels": {}, "ingress": [{"fromEntities": ["world"], "icmps": [{"fields": [{"type": 8}]}]}], "ingress_edges": ["e1"], "egress_edges": []}},
		"excluded": {"e2": "why"}, "warnings": [{"msg": "b", "policy": "p"}, {"msg": "a", "policy": "p"}], "deny": [], "warn": [{"msg": "w", "object": "o"}]}`
	var b map[string]any
	dec := json.NewDecoder(strings.NewReader(good))
	dec.UseNumber() // as OPA gives numbers
	if err := dec.Decode(&b); err != nil {
		t.Fatal(err)
	}
	d, err := decodeDecisions(b)
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
			_, err := decodeDecisions(tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
