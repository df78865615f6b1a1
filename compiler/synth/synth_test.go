package synth

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/ir/irtest"
	"github.com/policypilot/ppc/rules"
)

func graph(t *testing.T) (*ir.Graph, string) {
	t.Helper()
	g := irtest.Graph(
		irtest.Workload("shop", "web", "app=web"),
		irtest.Workload("shop", "api", "app=api"),
		irtest.EdgeN("shop/web", "shop/api", "TCP/8080", 3),
	)
	if len(g.Edges) != 1 {
		t.Fatalf("%d edges, want 1", len(g.Edges))
	}
	var id string
	for k := range g.Edges {
		id = k
	}
	return g, id
}

func decision(ns, name string, edges []string, ingress ...string) *rules.PolicyDecision {
	pd := &rules.PolicyDecision{Namespace: ns, Name: name, Selector: map[string]string{"app": name},
		Labels: map[string]string{"app.kubernetes.io/managed-by": "ppc"}, IngressEdges: edges}
	for _, r := range ingress {
		pd.Ingress = append(pd.Ingress, json.RawMessage(r))
	}
	return pd
}

// TestPolicies: a decision becomes Cilium's object with its provenance;
// every way a pack can get it wrong is an error on that policy, naming
// the path, and never a rule silently dropped.
func TestPolicies(t *testing.T) {
	g, edge := graph(t)
	good := `{"fromEndpoints":[{"matchLabels":{"app":"web"}}],"toPorts":[{"ports":[{"port":"8080","protocol":"TCP"}]}]}`
	for _, tc := range []struct {
		name     string
		policies map[string]*rules.PolicyDecision
		wantErr  string
		wantPath string
	}{
		{"valid", map[string]*rules.PolicyDecision{"shop/api": decision("shop", "api", []string{edge}, good)}, "", ""},
		{"misspelt field", map[string]*rules.PolicyDecision{"shop/api": decision("shop", "api", nil, `{"fromEndpoint":[{}]}`)}, "invalid ingress rule", "spec.ingress[0]"},
		{"no name", map[string]*rules.PolicyDecision{"shop/": decision("shop", "", nil, good)}, "without namespace or name", ""},
		{"key mismatch", map[string]*rules.PolicyDecision{"shop/other": decision("shop", "api", nil, good)}, "does not match", ""},
		{"unknown edge", map[string]*rules.PolicyDecision{"shop/api": decision("shop", "api", []string{"nope"}, good)}, `edge "nope"`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps, ds := Policies(g, &rules.Decisions{Policies: tc.policies})
			if tc.wantErr == "" {
				if len(ds) > 0 || len(ps) != 1 {
					t.Fatalf("policies %v, diagnostics %v", ps, ds)
				}
				p := ps[0]
				ann := p.CNP.Annotations
				if ann[AnnotationFlows] != "3" || ann[AnnotationEdges] != "1" || ann[AnnotationFirstSeen] != "2026-01-01T00:00:00Z" || ann[AnnotationLastSeen] != "2026-01-01T00:00:02Z" {
					t.Errorf("annotations %v", ann)
				}
				if len(p.CNP.Spec.Ingress) != 1 || p.CNP.Spec.Ingress[0].ToPorts[0].Ports[0].Port != "8080" || p.Flows != 3 {
					t.Errorf("spec %+v", p.CNP.Spec)
				}
				return
			}
			if len(ds) == 0 || !strings.Contains(ds[0].Msg, tc.wantErr) || ir.JoinPath(ds[0].Path) != tc.wantPath || ds[0].Code != "ppc_synth_error" {
				t.Fatalf("diagnostics %v, want %q at %q", ds, tc.wantErr, tc.wantPath)
			}
		})
	}
}

// TestPoliciesOrderAndJSON: policies come out by cluster, namespace and
// name whatever the packs' order, and JSON drops what Kubernetes fills in
// on creation.
func TestPoliciesOrderAndJSON(t *testing.T) {
	g, _ := graph(t)
	b := decision("b", "x", nil)
	a := decision("a", "y", nil)
	east := decision("a", "z", nil)
	east.Cluster = "east"
	ps, ds := Policies(g, &rules.Decisions{Policies: map[string]*rules.PolicyDecision{"b/x": b, "a/y": a, "east/a/z": east}})
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	var keys []string
	for _, p := range ps {
		keys = append(keys, p.Key)
	}
	if strings.Join(keys, " ") != "a/y b/x east/a/z" {
		t.Errorf("order %v", keys)
	}
	j, err := JSON(ps[0].CNP)
	if err != nil {
		t.Fatal(err)
	}
	s := string(j)
	if strings.Contains(s, "creationTimestamp") || strings.Contains(s, `"status"`) || !strings.HasPrefix(s, `{"apiVersion":"cilium.io/v2","kind":"CiliumNetworkPolicy","metadata":`) {
		t.Errorf("JSON %s", s)
	}
}

// TestPeerSelectorsShared: policies naming the same workload as a peer
// share its label selector (peerSelectors), selectors of other labels or
// with expressions are their own, and the JSON written is the same as
// each policy's own decoding gives.
func TestPeerSelectorsShared(t *testing.T) {
	g, _ := graph(t)
	web := `{"matchLabels":{"app":"web","k8s:io.kubernetes.pod.namespace":"shop"}}`
	webReordered := `{"matchLabels":{"k8s:io.kubernetes.pod.namespace":"shop","app":"web"}}`
	expr := `{"matchExpressions":[{"key":"app","operator":"In","values":["web"]}]}`
	rule := func(sels ...string) string {
		return `{"fromEndpoints":[` + strings.Join(sels, ",") + `],"toPorts":[{"ports":[{"port":"8080","protocol":"TCP"}]}]}`
	}
	ds := map[string]*rules.PolicyDecision{
		"shop/a": decision("shop", "a", nil, rule(web, `{"matchLabels":{"app":"db"}}`)),
		"shop/b": decision("shop", "b", nil, rule(webReordered, expr)),
		"shop/c": decision("shop", "c", nil, rule(expr)),
	}
	ps, diags := Policies(g, &rules.Decisions{Policies: ds})
	if len(diags) > 0 || len(ps) != 3 {
		t.Fatal(len(ps), diags)
	}
	a, b, c := ps[0].CNP.Spec.Ingress[0].FromEndpoints, ps[1].CNP.Spec.Ingress[0].FromEndpoints, ps[2].CNP.Spec.Ingress[0].FromEndpoints
	if a[0].LabelSelector != b[0].LabelSelector {
		t.Error("two policies' selectors of the same labels are not shared")
	}
	if a[1].LabelSelector == a[0].LabelSelector || b[1].LabelSelector == c[0].LabelSelector {
		t.Error("selectors of other labels, or with expressions, were shared")
	}
	for _, p := range ps {
		got, err := JSON(p.CNP)
		if err != nil {
			t.Fatal(err)
		}
		alone, _ := Policies(g, &rules.Decisions{Policies: map[string]*rules.PolicyDecision{p.Key: ds[p.Key]}})
		want, err := JSON(alone[0].CNP)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s: %s, alone %s", p.Key, got, want)
		}
	}
}
