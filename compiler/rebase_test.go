package compiler_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/ir/irtest"
)

// shopAt is a capture of the shop at t: the given clients reach api.
func shopAt(t time.Time, clients ...string) *ir.Graph {
	g := irtest.Graph(irtest.Workload("shop", "web", "app=web"), irtest.Workload("shop", "admin", "app=admin"), irtest.Workload("shop", "api", "app=api"))
	ids := irtest.IDs(g)
	for _, c := range clients {
		port := uint16(8080)
		if c == "admin" {
			port = 9090
		}
		g.Observe(ir.Observation{Src: ids[c], Dst: ids["api"], Protocol: "TCP", Port: port, Verdict: "FORWARDED", Time: t, Direction: ir.ByTCPFlags})
	}
	return g
}

func docsOf(res *compiler.Result) []manifest.Object {
	var out []manifest.Object
	for _, d := range res.Docs {
		out = append(out, d.Object())
	}
	return out
}

// TestRebase: compile --base keeps hand-written policies and the rules a
// person added to ppc's, adds rules for new traffic, and marks, then
// prunes, rules no flow used for longer than --stale-after; the result
// always allows every observed connection.
func TestRebase(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	first := compile(t, nil, compiler.Options{Graph: shopAt(t0, "web"), NoProbe: true})
	base := docsOf(first)
	// A person adds a rule to ppc's api policy, and writes a policy of
	// their own.
	for i, o := range base {
		if o.Name == "api" {
			base[i].JSON = []byte(strings.Replace(string(o.JSON), `"ingress":[`, `"ingress":[{"fromEntities":["health"]},`, 1))
		}
	}
	hand, ds := manifest.Parse("hand.yaml", []byte("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: audit, namespace: shop}\nspec:\n  endpointSelector: {matchLabels: {app: api}}\n  ingress: [{fromEndpoints: [{matchLabels: {app: auditor}}]}]\n"))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	base = append(base, hand...)
	opts := compiler.RebaseOptions{StaleAfter: 24 * time.Hour, Agent: agent.Defaults(), Namespace: "default"}

	// Two days later admin calls api too: a rule is added, nothing is
	// stale yet (the person's rule's clock starts now).
	second := compile(t, nil, compiler.Options{Graph: shopAt(t0.Add(48*time.Hour), "web", "admin"), NoProbe: true})
	rb, err := compiler.Rebase(ctx, second, base, opts)
	if err != nil {
		t.Fatal(err)
	}
	api := docNamed(t, rb.Docs, "api")
	if rb.AddedRules != 1 || rb.Stale != 0 || len(rb.Kept) != 1 || !strings.Contains(api, `{"fromEntities":["health"]}`) || !strings.Contains(api, `"app":"admin"`) {
		t.Fatalf("added %d, stale %d, kept %d:\n%s", rb.AddedRules, rb.Stale, len(rb.Kept), api)
	}
	if !strings.Contains(api, compiler.AnnotationRulesLastUsed) {
		t.Errorf("no last-used annotation: %s", api)
	}
	for _, d := range rb.Docs {
		if d.Name == "audit" {
			t.Error("the hand-written policy is rewritten")
		}
	}
	if rb.Diff == nil || len(rb.Diff.Policies) == 0 {
		t.Error("no diff against the base")
	}

	// Four days later only admin calls: web's rule and the person's are
	// stale (unused for 48h > 24h): marked, then pruned.
	var next []manifest.Object
	for _, d := range rb.Docs {
		next = append(next, d.Object())
	}
	next = append(next, hand...)
	third := compile(t, nil, compiler.Options{Graph: shopAt(t0.Add(96*time.Hour), "admin"), NoProbe: true})
	marked, err := compiler.Rebase(ctx, third, next, opts)
	if err != nil {
		t.Fatal(err)
	}
	api = docNamed(t, marked.Docs, "api")
	// Stale: api's rule for web and the person's rule; never the DNS rule
	// this compile writes, nor web's rules (web is not in the flows:
	// nothing says they went unused).
	if marked.Stale != 2 || strings.Contains(api, "spec.egress[0]") || !strings.Contains(api, compiler.AnnotationStaleRules) || !strings.Contains(api, "unused since 2026-11-03T00:00:00Z") {
		t.Errorf("stale %d:\n%s", marked.Stale, api)
	}
	opts.Prune = true
	pruned, err := compiler.Rebase(ctx, third, next, opts)
	if err != nil {
		t.Fatal(err)
	}
	api = docNamed(t, pruned.Docs, "api")
	if pruned.Pruned != 2 || !strings.Contains(api, `"dns"`) || strings.Contains(api, `"app":"web"`) || strings.Contains(api, "health") || !strings.Contains(api, `"app":"admin"`) {
		t.Errorf("pruned %d:\n%s", pruned.Pruned, api)
	}
	if r := pruned.Replay.Report; r.Allowed != r.Connections {
		t.Errorf("after pruning %d of %d connections allowed", r.Allowed, r.Connections)
	}
}

func docNamed(t *testing.T, docs []compiler.Doc, name string) string {
	t.Helper()
	for _, d := range docs {
		if d.Name == name {
			return string(d.JSON)
		}
	}
	t.Fatalf("no policy %s", name)
	return ""
}
