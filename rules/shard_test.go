package rules

import (
	"fmt"
	"reflect"
	"sort"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/ir/irtest"
)

func TestPlanShards(t *testing.T) {
	g := irtest.Graph(
		irtest.Workload("a", "x", "app=x"), irtest.Workload("b", "y", "app=y"),
		irtest.Workload("c", "z", "app=z"), irtest.Workload("d", "idle", "app=idle"),
		irtest.Edge("a/x", "b/y", "TCP/80"),
		irtest.Edge("b/y", "b/y", "TCP/81"),
		irtest.Edge("c/z", "cidr:203.0.113.7/32", "TCP/443"),
	)
	if p := planShards(g, 100); p != nil {
		t.Fatalf("3 edges in shards of 100: want one evaluation, got %d shards", len(p))
	}
	describe := func(plan []*shard) []string {
		var out []string
		for _, s := range plan {
			out = append(out, fmt.Sprintf("%v:%d", sortedKeys(s.owns), len(s.edges)))
		}
		return out
	}
	// Every namespace with a workload is owned by one shard, the idle one
	// too; the edge between a and b is in both of theirs.
	if got, want := describe(planShards(g, 1)), []string{"[a]:1", "[b]:2", "[c]:1", "[d]:0"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("plan %v, want %v", got, want)
	}
	// 4 edge ends (a->b counts in a and in b, b->b once) in shards of 2.
	plan := planShards(g, 2)
	if got, want := describe(plan), []string{"[a b]:2", "[c d]:1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("plan %v, want %v", got, want)
	}
	// The second shard sees the workloads of c and d, and the peer its
	// edge names; not a's or b's.
	sh := &sharding{shards: plan, nodes: map[string]any{}, byNamespace: map[string][]string{}, context: ast.Boolean(false)}
	for id, n := range g.Nodes {
		sh.nodes[id] = nodeInput(id, n)
		if n.Kind == ir.KindWorkload {
			sh.byNamespace[n.Namespace] = append(sh.byNamespace[n.Namespace], id)
		}
	}
	in := sh.input(g, plan[1])
	shard := in["shard"].(map[string]any)
	if ns := shard["namespaces"].(map[string]any); len(ns) != 2 || ns["c"] != true || ns["d"] != true {
		t.Fatalf("input.shard.namespaces = %v", ns)
	}
	if shard["context"] == nil {
		t.Fatal("no input.shard.context")
	}
	var seen []string
	for id := range in["nodes"].(map[string]any) {
		seen = append(seen, g.Nodes[id].Namespace+"/"+g.Nodes[id].Name)
	}
	sort.Strings(seen)
	if want := []string{"/", "c/z", "d/idle"}; !reflect.DeepEqual(seen, want) {
		t.Fatalf("shard nodes %v, want %v", seen, want)
	}
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestMergeShardsChecksThePromises: parts that break what a shardable
// pack promised are refused (the graph is then decided whole).
func TestMergeShardsChecksThePromises(t *testing.T) {
	plan := []*shard{
		{owns: map[string]bool{"a": true}, edges: []string{"e1", "e2"}},
		{owns: map[string]bool{"b": true}, edges: []string{"e2", "e3"}},
	}
	pol := func(ns string) *PolicyDecision { return &PolicyDecision{Namespace: ns, Name: "p"} }
	good := func() []*Decisions {
		return []*Decisions{
			{Policies: map[string]*PolicyDecision{"a/p": pol("a")}, Excluded: map[string]string{"e2": "why"}, Warnings: []Finding{{Msg: "w", Policy: "a/p"}, {Msg: "edge", Object: "e2"}}},
			{Policies: map[string]*PolicyDecision{"b/p": pol("b")}, Excluded: map[string]string{"e2": "why"}, Warnings: []Finding{{Msg: "edge", Object: "e2"}}},
		}
	}
	d, ok := mergeShards(plan, good())
	if !ok {
		t.Fatal("consistent parts refused")
	}
	if len(d.Policies) != 2 || len(d.Excluded) != 1 || len(d.Warnings) != 2 {
		t.Fatalf("merged %+v", d)
	}
	for _, c := range []struct {
		name   string
		breaks func(ps []*Decisions)
	}{
		{"policy of another shard's namespace", func(ps []*Decisions) { ps[0].Policies["b/q"] = pol("b") }},
		{"policy of no shard's namespace", func(ps []*Decisions) { ps[0].Policies["z/p"] = pol("z") }},
		{"clusterwide policy", func(ps []*Decisions) {
			ps[0].Policies["base"] = &PolicyDecision{Namespace: "a", Name: "base", Clusterwide: true}
		}},
		{"exclusions disagree", func(ps []*Decisions) { ps[1].Excluded["e2"] = "other" }},
		{"one shard excludes a shared edge", func(ps []*Decisions) { delete(ps[1].Excluded, "e2") }},
		{"exclusion of an edge not held", func(ps []*Decisions) { ps[0].Excluded["e3"] = "why" }},
		{"warning about another shard's policy", func(ps []*Decisions) { ps[1].Warnings = append(ps[1].Warnings, Finding{Msg: "x", Policy: "a/p"}) }},
		{"gate finding", func(ps []*Decisions) { ps[1].Deny = []Finding{{Msg: "no"}} }},
	} {
		ps := good()
		c.breaks(ps)
		if _, ok := mergeShards(plan, ps); ok {
			t.Errorf("%s: merged", c.name)
		}
	}
}

// TestJoinContexts: the parts of the shard context join table by table;
// parts that disagree, or lack a field, do not join (the graph is then
// decided whole).
func TestJoinContexts(t *testing.T) {
	v := func(s string) ast.Value { return ast.MustParseTerm(s).Value }
	for _, tc := range []struct {
		parts []string
		want  string // "" : nil
	}{
		{[]string{`{"m": false, "sel": {"a": {"app": "a"}}}`}, `{"m": false, "sel": {"a": {"app": "a"}}}`},
		{[]string{`{"m": true, "sel": {"a": 1}, "dns": {}}`, `{"m": true, "sel": {"b": 2}, "dns": {"d": true}}`}, `{"m": true, "sel": {"a": 1, "b": 2}, "dns": {"d": true}}`},
		{[]string{`{"sel": {"a": 1}}`, `{"sel": {"a": 1}}`}, `{"sel": {"a": 1}}`},
		{[]string{`{"sel": {"a": 1}}`, `{"sel": {"a": 2}}`}, ""},
		{[]string{`{"m": true, "sel": {}}`, `{"m": false, "sel": {}}`}, ""},
		{[]string{`{"m": true, "sel": {}}`, `{"sel": {}}`}, ""},
		{[]string{`{"m": true}`, `{"n": true}`}, ""},
		{[]string{`{"m": true}`, `[1]`}, ""},
	} {
		parts := make([]ast.Value, len(tc.parts))
		for i, p := range tc.parts {
			parts[i] = v(p)
		}
		got := joinContexts(parts)
		switch {
		case tc.want == "" && got != nil:
			t.Errorf("%v joined into %v, want no join", tc.parts, got)
		case tc.want != "" && (got == nil || got.Compare(v(tc.want)) != 0):
			t.Errorf("%v joined into %v, want %s", tc.parts, got, tc.want)
		}
	}
}
