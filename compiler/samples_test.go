package compiler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	"github.com/cilium/cilium/pkg/policy/api"
	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/compiler/synth"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/ir/irtest"
	"github.com/policypilot/ppc/reports"
)

// realSamples are the real Hubble captures in testdata/flows (see its
// PROVENANCE.md).
func realSamples(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "testdata", "flows", "*.json*"))
	if err != nil || len(files) < 13 {
		t.Fatalf("samples: %v %v", files, err)
	}
	return files
}

func compile(t testing.TB, args []string, opts compiler.Options) *compiler.Result {
	t.Helper()
	if opts.Agent.ClusterName == "" {
		opts.Agent = agent.Defaults()
		opts.InferCluster = true
	}
	res, err := compiler.Compile(context.Background(), args, opts)
	if err != nil {
		t.Fatalf("Compile(%v): %v\n%v", args, err, res.Diagnostics)
	}
	return res
}

// writtenCNPs decodes the documents a compile writes (CiliumNetworkPolicies
// and clusterwide ones): once encoded, a compile's policies keep only
// their metadata as types.
func writtenCNPs(t testing.TB, res *compiler.Result) []*ciliumv2.CiliumNetworkPolicy {
	t.Helper()
	var out []*ciliumv2.CiliumNetworkPolicy
	for _, d := range res.Docs {
		if d.Kind != "CiliumNetworkPolicy" && d.Kind != "CiliumClusterwideNetworkPolicy" {
			continue
		}
		var p ciliumv2.CiliumNetworkPolicy
		if err := json.Unmarshal(d.JSON, &p); err != nil {
			t.Fatalf("%s: %v", d.Path(), err)
		}
		out = append(out, &p)
	}
	return out
}

// TestRealSamples is the bar of the compile foundation: for every real
// sample, with and without --include-denied, every policy passes the API
// server's CRD validation, the agent's parser and ppc's CUE schema, and
// Cilium's policy engine allows every observed connection — checked both
// with the cached replay path and with policy.LookupFlow.
func TestRealSamples(t *testing.T) {
	total := 0
	for _, f := range realSamples(t) {
		for _, denied := range []bool{false, true} {
			name := filepath.Base(f)
			if denied {
				name += "/include-denied"
			}
			t.Run(name, func(t *testing.T) {
				opts := compiler.Options{}
				opts.Learn.Lower.IncludeDenied = denied
				res := compile(t, []string{f}, opts)
				if res.Diagnostics.HasErrors() {
					t.Fatalf("diagnostics:\n%v", res.Diagnostics)
				}
				if res.Completed != compiler.StageEmit {
					t.Fatalf("stopped after %s", res.Completed)
				}
				if r := res.Replay; r.Denied != r.Excluded || r.Allowed+r.Excluded != r.Connections || r.Connections != len(res.Graph.Edges) {
					t.Fatalf("replay %+v", r)
				}
				total += len(res.Policies)
				crossCheck(t, res)
			})
		}
	}
	if total < 40 {
		t.Errorf("only %d policies over all samples; the samples should yield more", total)
	}
}

// engineFor returns Cilium's engine loaded with a compile's policies.
func engineFor(t *testing.T, res *compiler.Result) *replay.Engine {
	t.Helper()
	eng, err := replay.New(res.Agent)
	if err != nil {
		t.Fatal(err)
	}
	var ps []replay.Policy
	for _, d := range res.Docs {
		ps = append(ps, replay.Policy{Kind: d.Kind, JSON: d.JSON})
	}
	if err := eng.Load(ps); err != nil {
		t.Fatal(err)
	}
	return eng
}

// crossCheck compares every cached verdict with policy.LookupFlow.
func crossCheck(t *testing.T, res *compiler.Result) {
	t.Helper()
	eng := engineFor(t, res)
	g := res.Graph
	if err := eng.AddGraph(g); err != nil {
		t.Fatal(err)
	}
	for _, e := range g.SortedEdges() {
		got, err := eng.Check(g.Nodes[e.Src], g.Nodes[e.Dst], e.Protocol, e.Port)
		if err != nil {
			t.Fatal(err)
		}
		want, err := eng.Reference(g.Nodes[e.Src], g.Nodes[e.Dst], e.Protocol, e.Port)
		if err != nil {
			t.Fatal(err)
		}
		if got.Egress.Decision != want.Egress.Decision || got.Ingress.Decision != want.Ingress.Decision {
			t.Errorf("%s: cached %v/%v, LookupFlow %v/%v", e.ID, got.Egress.Decision, got.Ingress.Decision, want.Egress.Decision, want.Ingress.Decision)
		}
		if !got.Allowed() && res.Decisions.Excluded[e.ID] == "" {
			t.Errorf("%s denied", e.ID)
		}
	}
}

func stream(t *testing.T, res *compiler.Result) []byte {
	t.Helper()
	b, err := reports.Stream(res.Docs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDeterministic: the same input gives byte-identical output, whatever
// the order of the input files.
func TestDeterministic(t *testing.T) {
	files := []string{
		filepath.Join("..", "testdata", "flows", "hubble-otel-basic-sample-400-tcp-flows.json"),
		filepath.Join("..", "testdata", "flows", "hubble-otel-basic-sample-400-udp-flows.json"),
		filepath.Join("..", "testdata", "flows", "hubble-otel-basic-sample-400-l7-redirected-flows.json"),
	}
	first := stream(t, compile(t, files, compiler.Options{}))
	if len(first) == 0 {
		t.Fatal("no output")
	}
	again := stream(t, compile(t, files, compiler.Options{}))
	if !bytes.Equal(first, again) {
		t.Fatal("two runs differ")
	}
	reversed := []string{files[2], files[1], files[0]}
	if rev := stream(t, compile(t, reversed, compiler.Options{})); !bytes.Equal(first, rev) {
		t.Fatalf("input order changes the output:\n%s\nvs\n%s", first, rev)
	}
}

// TestLearnMergeCompile: learning files separately and compiling the merged
// snapshots gives the same policies as compiling the files at once.
func TestLearnMergeCompile(t *testing.T) {
	files := []string{
		filepath.Join("..", "testdata", "flows", "hubble-otel-basic-sample-400-tcp-flows.json"),
		filepath.Join("..", "testdata", "flows", "hubble-otel-basic-sample-400-udp-flows.json"),
	}
	dir := t.TempDir()
	var snaps []string
	for i, f := range files {
		res := compile(t, []string{f}, compiler.Options{StopAfter: compiler.StageNormalize})
		var buf bytes.Buffer
		if err := res.Graph.Write(&buf); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "ir"+string(rune('a'+i))+".json")
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, p)
	}
	direct := stream(t, compile(t, files, compiler.Options{}))
	merged := stream(t, compile(t, snaps, compiler.Options{}))
	if !bytes.Equal(direct, merged) {
		t.Fatalf("merged snapshots compile differently:\n%s\nvs\n%s", direct, merged)
	}
}

func TestStagesDocumented(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range compiler.AllStages() {
		if !strings.Contains(string(readme), "| `"+string(s)+"` |") {
			t.Errorf("compiler/README.md does not document stage %s", s)
		}
	}
}

func TestStopAfter(t *testing.T) {
	f := filepath.Join("..", "testdata", "flows", "hubble-otel-basic-sample-10-flows.json")
	res := compile(t, []string{f}, compiler.Options{StopAfter: compiler.StageDecide})
	if res.Completed != compiler.StageDecide || res.Decisions == nil || res.Policies != nil {
		t.Fatalf("completed %s, policies %v", res.Completed, res.Policies)
	}
	if _, err := compiler.ParseStage("nope"); err == nil {
		t.Error("unknown stage accepted")
	}
	_ = ir.Version
}

// TestLintStage: the lint gate runs only with Options.Lint, lints each
// document as the file emit names for it, and its deny findings fail the
// compile (Result.Failed) without an error diagnostic.
func TestLintStage(t *testing.T) {
	f := filepath.Join("..", "testdata", "flows", "hubble-otel-basic-sample-400-tcp-flows.json")
	plain := compile(t, []string{f}, compiler.Options{NoProbe: true})
	if plain.Lint != nil || plain.Completed != compiler.StageEmit || plain.Failed() {
		t.Fatalf("without Options.Lint: lint %v, completed %s, failed %v", plain.Lint, plain.Completed, plain.Failed())
	}
	def := compile(t, []string{f}, compiler.Options{NoProbe: true, Lint: &compiler.LintOptions{}})
	if def.Lint == nil || def.Completed != compiler.StageLint || def.Failed() {
		t.Fatalf("default pack: lint %+v, completed %s, failed %v", def.Lint, def.Completed, def.Failed())
	}
	org := compile(t, []string{f}, compiler.Options{NoProbe: true, Lint: &compiler.LintOptions{Packs: []string{filepath.Join("..", "testdata", "lint", "org-team")}}})
	if !org.Failed() || org.Diagnostics.HasErrors() {
		t.Fatalf("org pack: failed %v, diagnostics %v", org.Failed(), org.Diagnostics)
	}
	paths := map[string]bool{}
	for _, d := range org.Docs {
		paths[d.Path()] = true
	}
	denied := 0
	for _, x := range org.Lint.Findings {
		if x.Rule != "ORG001" {
			continue
		}
		denied++
		if !paths[x.File] || x.Line != 1 {
			t.Errorf("finding at %s:%d, not at an emitted document's path", x.File, x.Line)
		}
	}
	if denied != len(org.Docs) {
		t.Errorf("%d ORG001 findings for %d policies", denied, len(org.Docs))
	}
}

// TestL7HTTPObserved: with l7.http=observed the HTTP sample's servers get
// rules.http for the requests Hubble recorded, every policy passes the
// verification layers, and the L7 rules allow every observed request.
func TestL7HTTPObserved(t *testing.T) {
	f := filepath.Join("..", "testdata", "flows", "hubble-otel-basic-sample-348-http-flows.json")
	res := compile(t, []string{f}, compiler.Options{Set: []string{"l7.http=observed"}, NoProbe: true})
	if res.Diagnostics.HasErrors() {
		t.Fatalf("diagnostics:\n%v", res.Diagnostics)
	}
	rules := 0
	for _, p := range writtenCNPs(t, res) {
		for _, r := range p.Spec.Ingress {
			for _, pr := range r.ToPorts {
				if pr.Rules != nil {
					rules += len(pr.Rules.HTTP)
				}
			}
		}
	}
	r := res.Replay
	if rules == 0 || r.Requests == 0 || r.RequestsAllowed != r.Requests {
		t.Errorf("%d HTTP rules; replay allows %d of %d observed requests (%d unknown)", rules, r.RequestsAllowed, r.Requests, r.RequestsUnknown)
	}
	plain := compile(t, []string{f}, compiler.Options{NoProbe: true})
	for _, p := range writtenCNPs(t, plain) {
		for _, r := range p.Spec.Ingress {
			for _, pr := range r.ToPorts {
				if pr.Rules != nil && len(pr.Rules.HTTP) > 0 {
					t.Fatalf("HTTP rules by default in %s/%s", p.Namespace, p.Name)
				}
			}
		}
	}
}

// TestDNSNamesObserved: with dns.names=observed the DNS rules name what
// was looked up, pass every verification layer, and the DNS proxy's
// matching allows every observed lookup.
func TestDNSNamesObserved(t *testing.T) {
	f := filepath.Join("..", "testdata", "flows", "hubble-otel-basic-sample-330-dns-flows.json")
	res := compile(t, []string{f}, compiler.Options{Set: []string{"dns.names=observed"}, NoProbe: true})
	if res.Diagnostics.HasErrors() {
		t.Fatalf("diagnostics:\n%v", res.Diagnostics)
	}
	narrowed := false
	for _, p := range writtenCNPs(t, res) {
		for _, r := range p.Spec.Egress {
			for _, pr := range r.ToPorts {
				if pr.Rules != nil && len(pr.Rules.DNS) > 0 && pr.Rules.DNS[0].MatchPattern != "*" {
					narrowed = true
				}
			}
		}
	}
	r := res.Replay
	if !narrowed || r.Requests == 0 || r.RequestsAllowed != r.Requests {
		t.Errorf("narrowed %v; the proxy allows %d of %d observed lookups", narrowed, r.RequestsAllowed, r.Requests)
	}
}

// TestRealSamplesL7: every real sample compiles with L7 HTTP rules and DNS
// names from observation, passes every check, and every observed request
// and lookup passes the L7 rules it gets.
func TestRealSamplesL7(t *testing.T) {
	for _, f := range realSamples(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			res := compile(t, []string{f}, compiler.Options{Set: []string{"l7.http=observed", "dns.names=observed"}, NoProbe: true})
			if res.Diagnostics.HasErrors() {
				t.Fatalf("diagnostics:\n%v", res.Diagnostics)
			}
			if r := res.Replay; r.RequestsAllowed != r.Requests {
				t.Errorf("the L7 rules allow %d of %d observed requests", r.RequestsAllowed, r.Requests)
			}
		})
	}
}

// TestToFQDNsFolded: with dns.names=observed, a workload that reaches
// many names under one parent gets toFQDNs matchPattern "*.<parent>", and
// Cilium's engine still allows every observed connection and lookup.
func TestToFQDNsFolded(t *testing.T) {
	items := []irtest.Item{irtest.Workload("kube-system", "kube-dns", "k8s-app=kube-dns"), irtest.Workload("shop", "web", "app=web")}
	for i := 1; i <= 6; i++ {
		items = append(items, irtest.Edge("shop/web", fmt.Sprintf("fqdn:s%d.cdn.example", i), "TCP/443"))
	}
	items = append(items, irtest.Edge("shop/web", "kube-system/kube-dns", "UDP/53"))
	g := irtest.Graph(items...)
	web, dns := irtest.IDs(g)["web"], irtest.IDs(g)["kube-dns"]
	for i := 1; i <= 6; i++ {
		g.Observe(ir.Observation{Src: web, Dst: dns, Protocol: "UDP", Port: 53, Verdict: "FORWARDED", DNSQuery: fmt.Sprintf("s%d.cdn.example", i)})
	}
	res := compile(t, nil, compiler.Options{Graph: g, Set: []string{"dns.names=observed"}, NoProbe: true})
	if res.Diagnostics.HasErrors() {
		t.Fatalf("diagnostics:\n%v", res.Diagnostics)
	}
	var patterns []string
	for _, p := range writtenCNPs(t, res) {
		for _, r := range p.Spec.Egress {
			for _, f := range r.ToFQDNs {
				patterns = append(patterns, f.MatchPattern+f.MatchName)
			}
		}
	}
	if fmt.Sprint(patterns) != "[*.cdn.example]" {
		t.Errorf("toFQDNs %v, want one matchPattern *.cdn.example", patterns)
	}
	if r := res.Replay; r.Allowed != r.Connections || r.Requests != 6 || r.RequestsAllowed != 6 {
		t.Errorf("replay allows %d of %d connections, %d of %d lookups", r.Allowed, r.Connections, r.RequestsAllowed, r.Requests)
	}
}

// TestPoliciesAreTheirDocuments: once encoded, a compile's policies keep
// their metadata and rule counts but not their specs, and replay loads
// the documents that are written (a change to one changes the verdicts),
// not the types they were encoded from.
func TestPoliciesAreTheirDocuments(t *testing.T) {
	f := filepath.Join("..", "testdata", "flows", "hubble-otel-basic-sample-400-l7-redirected-flows.json")
	res := compile(t, []string{f}, compiler.Options{NoProbe: true})
	written := writtenCNPs(t, res)
	if len(res.Policies) == 0 || len(written) != len(res.Policies) {
		t.Fatalf("%d policies, %d documents", len(res.Policies), len(written))
	}
	for i, p := range res.Policies {
		w := written[i]
		if p.CNP.Spec != nil || p.CNP.Name != w.Name || p.CNP.Namespace != w.Namespace ||
			p.IngressRules != len(w.Spec.Ingress) || p.EgressRules != len(w.Spec.Egress) || p.IngressRules+p.EgressRules == 0 {
			t.Errorf("%s: spec kept %v, %d/%d rules counted, %d/%d written", p.Key, p.CNP.Spec != nil, p.IngressRules, p.EgressRules, len(w.Spec.Ingress), len(w.Spec.Egress))
		}
	}
	// The document of a policy whose workload opened connections.
	j := slices.IndexFunc(res.Policies, func(p *synth.Policy) bool { return len(p.Decision.EgressEdges) > 0 })
	i := slices.IndexFunc(res.Docs, func(d compiler.Doc) bool {
		return j >= 0 && d.Namespace == res.Policies[j].CNP.Namespace && d.Name == res.Policies[j].CNP.Name
	})
	if i < 0 {
		t.Fatal("no policy with egress connections")
	}
	var cnp ciliumv2.CiliumNetworkPolicy
	if err := json.Unmarshal(res.Docs[i].JSON, &cnp); err != nil {
		t.Fatal(err)
	}
	cnp.Spec.EgressDeny = []api.EgressDenyRule{{EgressCommonRule: api.EgressCommonRule{ToEntities: api.EntitySlice{api.EntityAll}}}}
	js, err := json.Marshal(&cnp)
	if err != nil {
		t.Fatal(err)
	}
	before := res.Replay.Denied
	res.Docs[i].JSON = js
	r, _, err := res.ClusterSet().Run(res.Graph, res.Agent, nil)
	if err != nil {
		t.Fatal(err)
	}
	if before != 0 || r.Denied == 0 {
		t.Errorf("denied %d connections as compiled, %d with %s's document denying all egress (want some)", before, r.Denied, res.Docs[i].Path())
	}
}

// TestDecisionRulesDroppedAfterSynthesis: once synthesis has turned the
// packs' rules into policies, the decisions keep their edges, exclusions
// and warnings but not the rules' JSON; a compile that stops after decide
// (what --dump decisions prints) keeps them.
func TestDecisionRulesDroppedAfterSynthesis(t *testing.T) {
	f := filepath.Join("..", "testdata", "flows", "hubble-otel-basic-sample-400-l7-redirected-flows.json")
	rulesOf := func(res *compiler.Result) (n, edges int) {
		for _, pd := range res.Decisions.Policies {
			n += len(pd.Ingress) + len(pd.Egress)
			edges += len(pd.IngressEdges) + len(pd.EgressEdges)
		}
		return n, edges
	}
	decided := compile(t, []string{f}, compiler.Options{StopAfter: compiler.StageDecide})
	whole := compile(t, []string{f}, compiler.Options{NoProbe: true})
	kept, edges := rulesOf(decided)
	dropped, wholeEdges := rulesOf(whole)
	if kept == 0 || dropped != 0 || edges == 0 || wholeEdges != edges || len(whole.Policies) == 0 {
		t.Errorf("rules after decide %d, after the whole compile %d (want none); edges %d and %d", kept, dropped, edges, wholeEdges)
	}
}
