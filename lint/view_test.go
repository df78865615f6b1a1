package lint

import (
	"strings"
	"testing"
)

func TestSelectorView(t *testing.T) {
	set := newPolicySet()
	add := func(name, kind, ns, js string, enforced bool) {
		t.Helper()
		obj, err := decodeObject([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		set.add(name, kind, ns, obj, enforced)
	}
	add("shop/web", "CiliumNetworkPolicy", "shop", `{"spec": {"endpointSelector": {"matchLabels": {"app": "web", "tier": "front"}}}}`, true)
	add("shop/all", "CiliumNetworkPolicy", "shop", `{"spec": {"endpointSelector": {}}}`, true)
	add("shop/front", "CiliumNetworkPolicy", "shop", `{"spec": {"endpointSelector": {"matchLabels": {"k8s:tier": "front"}}}}`, true)
	add("shop/api", "CiliumNetworkPolicy", "shop", `{"spec": {"endpointSelector": {"matchLabels": {"app": "api"}}}}`, true)
	add("other/all", "CiliumNetworkPolicy", "other", `{"spec": {"endpointSelector": {}}}`, true)
	add("everyone", "CiliumClusterwideNetworkPolicy", "", `{"spec": {"endpointSelector": {}}}`, true)
	add("nodes", "CiliumClusterwideNetworkPolicy", "", `{"spec": {"nodeSelector": {}}}`, true)
	add("shop/broken", "CiliumNetworkPolicy", "shop", `{"spec": {"endpointSelector": {}}}`, false)
	add("shop/expr", "CiliumNetworkPolicy", "shop", `{"specs": [{"endpointSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}}]}`, true)

	ws := set.selectorWorkloads(set.byName["shop/web"])
	if len(ws) != 1 {
		t.Fatalf("%d workloads", len(ws))
	}
	var got []string
	for _, s := range ws[0].Specs {
		got = append(got, s.Policy+"."+s.Path)
	}
	// Covered by: itself, the namespace-wide one, the one on a subset of
	// its labels (source prefix ignored), the clusterwide one. Not: a
	// policy on other labels, another namespace's, a node policy, one the
	// cluster rejects, one whose expression ppc cannot compare.
	want := "everyone.spec shop/all.spec shop/front.spec shop/web.spec"
	if strings.Join(got, " ") != want {
		t.Errorf("specs %q, want %q", strings.Join(got, " "), want)
	}
	if ws[0].Labels["app"] != "web" || ws[0].Labels[namespaceLabel] != "shop" {
		t.Errorf("labels %v", ws[0].Labels)
	}
	// A clusterwide policy is covered by clusterwide ones only.
	ws = set.selectorWorkloads(set.byName["everyone"])
	if len(ws) != 1 || len(ws[0].Specs) != 1 {
		t.Errorf("clusterwide: %+v", ws)
	}
	// A specs list: one workload per spec, named by its path.
	ws = set.selectorWorkloads(set.byName["shop/expr"])
	if len(ws) != 1 || !strings.Contains(ws[0].Name, "shop/expr.specs[0]") {
		t.Errorf("specs list: %+v", ws)
	}

	in := set.input(set.byName["shop/web"], nil)
	if in["method"] != MethodSelectors {
		t.Errorf("method %v", in["method"])
	}
	// With a view from flows, the workloads the policy selects there.
	view := &View{Workloads: []Workload{
		{Name: "shop/web", Namespace: "shop", Specs: []SpecRef{{"shop/broken", "spec"}, {"shop/expr", "specs[0]"}, {"shop/web", "spec"}}},
		{Name: "shop/api", Namespace: "shop", Specs: []SpecRef{{"shop/api", "spec"}}},
	}}
	in = set.input(set.byName["shop/web"], view)
	wl := in["workloads"].([]any)
	if in["method"] != MethodFlows || len(wl) != 1 {
		t.Fatalf("flows input: %v", in)
	}
	w := wl[0].(map[string]any)
	if n := len(w["specs"].([]any)); n != 2 { // the rejected policy left out
		t.Errorf("%d specs: %v", n, w["specs"])
	}
}
