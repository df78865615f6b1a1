package verify

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/cilium/cilium/pkg/policy/api"

	"sigs.k8s.io/yaml"

	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/ir"
)

func newVerifier(t testing.TB, ppc bool) *Verifier {
	t.Helper()
	v, err := New(Options{Agent: agent.Defaults(), PPC: ppc})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func doc(t testing.TB, y string) Object {
	t.Helper()
	b, err := yaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return Object{Pos: ir.Pos{File: "p.yaml", Line: 1}, JSON: b}
}

const basePolicy = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: api
  namespace: shop
  labels: {app.kubernetes.io/managed-by: ppc}
spec:
  endpointSelector:
    matchLabels: {app: api}
`

// layerCase is a policy spec and where a layer rejects it.
type layerCase struct {
	name  string
	spec  string
	layer Layer
	path  string
	msg   string
}

// layerCases are the cases where the API server and the agent disagree
// (reference/cilium-engine.md §1c).
func layerCases() []layerCase {
	ports41 := "  ingressDeny:\n  - fromEntities: [world]\n    toPorts:\n    - ports:\n"
	for i := 1; i <= 41; i++ {
		ports41 += "      - {port: \"" + itoa(1000+i) + "\", protocol: TCP}\n"
	}
	return []layerCase{
		{"valid", "  ingress:\n  - fromEndpoints: [{matchLabels: {app: web}}]\n    toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n", "", "", ""},
		{"port 99999 passes the API server, the agent rejects it", "  ingress:\n  - fromEndpoints: [{matchLabels: {app: web}}]\n    toPorts: [{ports: [{port: \"99999\", protocol: TCP}]}]\n",
			LayerAgent, "spec.ingress[0]", "value out of range"},
		{"bare IP in toCIDR: API server rejects, agent accepts", "  egress:\n  - toCIDR: [10.0.0.1]\n    toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n",
			LayerSchema, "spec.egress[0].toCIDR[0]", "cidr"},
		{"world-ipv4 entity: API server rejects", "  egress:\n  - toEntities: [world-ipv4]\n",
			LayerSchema, "spec.egress[0].toEntities[0]", "Unsupported value"},
		{"41 ports in a deny rule: only the agent rejects", ports41, LayerAgent, "spec.ingressDeny[0]", "too many ports"},
		{"41 ports in an allow rule: both reject", strings.Replace(ports41, "ingressDeny", "ingress", 1), LayerSchema, "spec.ingress[0].toPorts[0].ports", "Too many"},
		{"toEndpoints and toCIDR in one rule", "  egress:\n  - toEndpoints: [{}]\n    toCIDR: [10.0.0.0/8]\n", LayerAgent, "spec.egress[0]", "combining"},
		{"HTTP on UDP", "  ingress:\n  - toPorts: [{ports: [{port: \"80\", protocol: UDP}], rules: {http: [{method: GET}]}}]\n", LayerAgent, "spec.ingress[0]", "L7 rules can only apply to TCP"},
		{"unknown field", "  ingress:\n  - fromEndpointz: [{}]\n", LayerSchema, "spec.ingress[0].fromEndpointz", "unknown field"},
		{"bad protocol", "  ingress:\n  - toPorts: [{ports: [{port: \"80\", protocol: HTTP}]}]\n", LayerSchema, "spec.ingress[0].toPorts[0].ports[0].protocol", "Unsupported value"},
	}
}

// TestLayers covers the cases where the API server and the agent disagree
// (reference/cilium-engine.md §1c): each must be reported by the right
// layer, with its data path.
func TestLayers(t *testing.T) {
	tests := layerCases()
	v := newVerifier(t, false)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := v.Verify(context.Background(), doc(t, basePolicy+tt.spec))
			if tt.layer == "" {
				if len(ds) > 0 {
					t.Fatalf("valid policy rejected: %v", ds)
				}
				return
			}
			for _, d := range ds {
				if d.Code == tt.layer.Code() && ir.JoinPath(d.Path) == tt.path && strings.Contains(d.Msg, tt.msg) {
					if d.Object != "shop/api" || d.Pos.File != "p.yaml" {
						t.Errorf("diagnostic lacks object or position: %v", d)
					}
					if tt.layer == LayerAgent && !strings.Contains(strings.Join(d.Details, " "), "not enforce") {
						t.Errorf("agent-only rejection must say the policy is not enforced: %v", d.Details)
					}
					return
				}
			}
			t.Fatalf("want %s at %s (%q), got:\n%v", tt.layer, tt.path, tt.msg, ds)
		})
	}
}

func TestEveryErrorReported(t *testing.T) {
	spec := "  ingress:\n  - fromEndpoints: [{matchLabels: {app: web}}]\n    toPorts: [{ports: [{port: \"99999\", protocol: TCP}]}]\n" +
		"  egress:\n  - toCIDR: [10.0.0.1]\n  - toEntities: [wrld]\n"
	ds := newVerifier(t, true).Verify(context.Background(), doc(t, basePolicy+spec))
	layers := map[string]int{}
	for _, d := range ds {
		layers[d.Code]++
	}
	if layers[LayerSchema.Code()] < 2 || layers[LayerAgent.Code()] < 1 || layers[LayerPPC.Code()] < 2 {
		t.Errorf("layers %v:\n%v", layers, ds)
	}
}

func TestNotAnObject(t *testing.T) {
	v := newVerifier(t, false)
	for _, in := range []string{`[]`, `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"x"}}`} {
		ds := v.Verify(context.Background(), Object{JSON: []byte(in)})
		if len(ds) != 1 || ds[0].Code != LayerSchema.Code() {
			t.Errorf("%s: %v", in, ds)
		}
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{digits[i%10]}, b...)
	}
	return string(b)
}

func TestStableAgentMsg(t *testing.T) {
	for in, want := range map[string]string{
		"combining ToEndpoints and ToCIDR is not supported yet": "combining ToCIDR and ToEndpoints is not supported yet",
		"combining ToCIDR and ToEndpoints is not supported yet": "combining ToCIDR and ToEndpoints is not supported yet",
		"combining ToFQDNs and ToPorts is not supported yet":    "combining ToFQDNs and ToPorts is not supported yet",
		"value out of range": "value out of range",
	} {
		if got := stableAgentMsg(in); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

// TestCombiningSameEveryRun: a rule with three kinds of peer gets the same
// "combining" message every run, the first pair Cilium rejects in
// alphabetical order (Cilium names whichever pair it meets first in a Go
// map: three pairs came out over a dozen runs of ppc verify).
func TestCombiningSameEveryRun(t *testing.T) {
	spec := "  egress:\n  - toEndpoints: [{}]\n    toCIDR: [10.0.0.0/8]\n    toEntities: [world]\n" +
		"  ingress:\n  - fromEndpoints: [{}]\n    fromEntities: [world]\n    fromCIDR: [10.0.0.0/8]\n"
	want := []string{"combining FromCIDR and FromEndpoints is not supported yet", "combining ToCIDR and ToEndpoints is not supported yet"}
	v := newVerifier(t, false)
	for i := 0; i < 30; i++ {
		var got []string
		for _, d := range v.Verify(context.Background(), doc(t, basePolicy+spec)) {
			if d.Code == LayerAgent.Code() {
				got = append(got, d.Msg)
			}
		}
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Fatalf("run %d: %q, want %q", i, got, want)
		}
	}
}

// TestFirstCombining: the messages of rules with one kind of peer, or
// whose pair is the only one, are left as Cilium (and stableAgentMsg)
// word them.
func TestFirstCombining(t *testing.T) {
	rule := func(e api.EgressRule) func() *api.Rule {
		return func() *api.Rule { return &api.Rule{Egress: []api.EgressRule{*e.DeepCopy()}} }
	}
	two := rule(api.EgressRule{EgressCommonRule: api.EgressCommonRule{ToCIDR: api.CIDRSlice{"10.0.0.0/8"}, ToEntities: api.EntitySlice{"world"}}})
	for _, c := range []struct {
		only func() *api.Rule
		msg  string
		want string
	}{
		{two, "combining ToEntities and ToCIDR is not supported yet", "combining ToCIDR and ToEntities is not supported yet"},
		{two, "value out of range", "value out of range"},
		{two, "combining ToFQDNs and ToPorts is not supported yet", "combining ToFQDNs and ToPorts is not supported yet"},
		{rule(api.EgressRule{}), "combining ToB and ToA is not supported yet", "combining ToA and ToB is not supported yet"}, // no such fields: worded as stableAgentMsg words it
	} {
		if got := firstCombining(c.only, c.msg); got != c.want {
			t.Errorf("firstCombining(%q) = %q, want %q", c.msg, got, c.want)
		}
	}
}

// TestSchemaErrorsInOrder: the API server layer's errors come in order of
// path, the same every run (kube-openapi walks a schema's properties in a
// Go map's order: the same policy's errors came in another order from
// one run to the next).
func TestSchemaErrorsInOrder(t *testing.T) {
	spec := "  egress:\n  - toEntities: [wrld]\n    toCIDR: [10.0.0.1]\n  ingress:\n  - fromEntities: [hots]\n    toPorts: [{ports: [{port: \"80\", protocol: HTTP}]}]\n"
	v := newVerifier(t, false)
	var first string
	for i := 0; i < 30; i++ {
		var paths []string
		for _, d := range v.Verify(context.Background(), doc(t, basePolicy+spec)) {
			if d.Code == LayerSchema.Code() {
				paths = append(paths, ir.JoinPath(d.Path))
			}
		}
		got := strings.Join(paths, " ")
		if i == 0 {
			first = got
			// The note that CEL rules were skipped (no path) comes last.
			if n := len(paths); n < 5 || paths[n-1] != "" || !sort.StringsAreSorted(paths[:n-1]) {
				t.Fatalf("schema errors at %q: want four or more, in order of path, then the note", paths)
			}
		} else if got != first {
			t.Fatalf("run %d: %s, first run: %s", i, got, first)
		}
	}
}
