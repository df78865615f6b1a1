package compiler_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/internal/flowgen"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/ir/irtest"
	"github.com/policypilot/ppc/rules"
)

// scenario writes one of flowgen's ground-truth captures.
func scenario(t *testing.T, probe bool) (string, flowgen.Truth) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "shop.json")
	out, err := os.Create(f)
	if err != nil {
		t.Fatal(err)
	}
	gen := flowgen.Scenario
	if probe {
		gen = flowgen.ProbeScenario
	}
	truth, err := gen(out, 3000, 7)
	out.Close()
	if err != nil {
		t.Fatal(err)
	}
	return f, truth
}

// TestAnomaliesAgainstGroundTruth holds the anomaly stage to what really
// happened in flowgen's scenarios: the findings a reviewer must see
// (scored compiler.HighScore or more) are all about the workloads that
// misbehaved, the prober comes first, and each misbehaving workload is
// found. It logs the precision of all findings and of the high ones.
func TestAnomaliesAgainstGroundTruth(t *testing.T) {
	for _, probe := range []bool{false, true} {
		t.Run(fmt.Sprintf("probe=%v", probe), func(t *testing.T) {
			f, truth := scenario(t, probe)
			res := compile(t, []string{f}, compiler.Options{})
			a := res.Anomalies
			if a == nil || len(a.Findings) == 0 {
				t.Fatal("no finding")
			}
			names := res.Graph.DisplayNames()
			bad := map[string]bool{}
			for _, w := range truth.Anomalous {
				bad[w] = true
			}
			workload := func(id string) string { // "shop-prod/shop/x" -> "shop/x"
				n := names[id]
				if i := strings.Index(n, "/"); i >= 0 && strings.Count(n, "/") == 2 {
					n = n[i+1:]
				}
				return n
			}
			var tp, high, highTP int
			found := map[string]bool{}
			for _, x := range a.Findings {
				ok := bad[workload(x.Subject)]
				if ok {
					tp++
					found[workload(x.Subject)] = true
				}
				if x.Score >= compiler.HighScore {
					high++
					if ok {
						highTP++
					} else {
						t.Errorf("high finding about a workload that behaved: %+v", x.Anomaly)
					}
				}
			}
			for w := range bad {
				if !found[w] {
					t.Errorf("%s misbehaved and no finding names it: %v", w, a.Findings)
				}
			}
			if probe && workload(a.Findings[0].Subject) != "shop/recommendationservice" {
				t.Errorf("first finding %+v, want the prober's", a.Findings[0].Anomaly)
			}
			t.Logf("%d findings, precision %d/%d; scored %d or more: %d/%d", len(a.Findings), tp, len(a.Findings), compiler.HighScore, highTP, high)
		})
	}
}

// TestAnomaliesOfAttempts: explain POLICY_PATH learns every attempt (the
// cluster's drops as DROPPED edges); judged as attempts, its findings are
// those of the compile's anomaly stage.
func TestAnomaliesOfAttempts(t *testing.T) {
	ctx := context.Background()
	f, _ := scenario(t, true)
	res := compile(t, []string{f}, compiler.Options{})
	att, _, err := compiler.LearnAttempts(ctx, []string{f}, compiler.LearnOptions{}, agent.Defaults(), true)
	if err != nil {
		t.Fatal(err)
	}
	got, err := compiler.DetectAnomalies(ctx, att.Graph, compiler.AnomalyOptions{Attempts: true})
	if err != nil {
		t.Fatal(err)
	}
	key := func(r *compiler.AnomalyReport) string {
		var b strings.Builder
		for _, x := range r.Findings {
			fmt.Fprintf(&b, "%g %s %s %v\n", x.Score, x.Detector, x.Subject, x.Evidence.Dropped)
		}
		return b.String()
	}
	if key(got) != key(res.Anomalies) {
		t.Errorf("attempts:\n%s\ncompile:\n%s", key(got), key(res.Anomalies))
	}
	// Judged as learned (--include-denied), the same drops say so.
	learned, err := compiler.DetectAnomalies(ctx, att.Graph, compiler.AnomalyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(learned.Findings[0].Msg+learned.Findings[1].Msg, "learned with --include-denied") {
		t.Errorf("learned drops not said to be learned: %v", learned.Findings[:2])
	}
}

// TestRecommend: each kind of recommendation, from its trigger.
func TestRecommend(t *testing.T) {
	g := irtest.Graph(
		irtest.Workload("shop", "web", "app=web"), irtest.Workload("shop", "api", "app=api"), irtest.Workload("shop", "db", "app=db"),
		irtest.Edge("shop/web", "shop/api", "TCP/8080"), irtest.Edge("shop/api", "shop/db", "TCP/5432"), irtest.Edge("shop/web", "shop/db", "TCP/5432"),
	)
	base := irtest.Graph(irtest.Workload("shop", "web", "app=web"), irtest.Workload("shop", "api", "app=api"), irtest.Edge("shop/web", "shop/api", "TCP/8080"))
	var ports []string
	for p := 1000; p < 1035; p++ {
		ports = append(ports, fmt.Sprintf(`{"port":"%d","protocol":"TCP"}`, p))
	}
	pol := func(name, sel, rules string) manifest.Object {
		return manifest.Object{Kind: "CiliumNetworkPolicy", Name: name, Namespace: "shop", JSON: []byte(fmt.Sprintf(
			`{"apiVersion":"cilium.io/v2","kind":"CiliumNetworkPolicy","metadata":{"name":%q,"namespace":"shop"},"spec":{"endpointSelector":{"matchLabels":%s},"ingress":[%s]}}`, name, sel, rules))}
	}
	objs := []manifest.Object{
		pol("db", `{"statefulset.kubernetes.io/pod-name":"db-0"}`, `{"toPorts":[{"ports":[`+strings.Join(ports, ",")+`]}]}`),
		pol("api", `{"app":"api"}`, `{"toPorts":[{"ports":[{"port":"8080","protocol":"TCP"}]}]}`),
	}
	web, api := irtest.IDs(g)["web"], irtest.IDs(g)["api"]
	probe := &replay.ProbeReport{ByPolicy: []replay.ProbeCount{{Policy: "shop/api", Allowed: 3, Examples: []replay.ProbeHit{{Src: web, Dst: api, Protocol: "TCP", Port: 9090}}}}}
	anom := &compiler.AnomalyReport{Findings: []compiler.Anomaly{{}}}
	anom.Findings[0].Detector, anom.Findings[0].Subject = "world_no_dns", api
	recs := compiler.Recommend(compiler.RecommendInput{Graph: g, Baseline: base, Policies: objs, Probe: probe, Anomalies: anom})
	var got []string
	for _, r := range recs {
		got = append(got, r.Kind+": "+r.Msg)
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		"over_allow: shop/api allows 3 connections the flows never show (e.g. shop/web → shop/api TCP/9090)",
		"single_pod: shop/db: spec.endpointSelector uses statefulset.kubernetes.io/pod-name, which selects one pod of the StatefulSet",
		"port_limit: shop/db: spec.ingress[0].toPorts[0] lists 35 ports, near Cilium's limit of 40",
		"world_to_fqdn: shop/api reaches addresses outside the cluster by address only",
		"changed_most: shop/db: 2 connections new since the baseline, 0 gone",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in:\n%s", want, all)
		}
	}
	// Near misses: 31 ports, the app label, no baseline, no probe: nothing.
	if recs := compiler.Recommend(compiler.RecommendInput{Graph: g, Policies: []manifest.Object{pol("api", `{"app":"api"}`, `{"toPorts":[{"ports":[`+strings.Join(ports[:31], ",")+`]}]}`)}}); len(recs) != 0 {
		t.Errorf("near misses recommended: %v", recs)
	}
}

// TestDeniedAttemptsAgainstGroundTruth: the IR's denied attempts are
// exactly the connections the scenario's policies dropped, each from the
// end that really tried (the attacker, the prober) to the one it tried on
// the port it tried — though Hubble recorded each at two nodes, forwarded
// at the source and dropped at the destination, without is_reply.
func TestDeniedAttemptsAgainstGroundTruth(t *testing.T) {
	f, truth := scenario(t, true)
	res := compile(t, []string{f}, compiler.Options{NoReplay: true})
	g := res.Graph
	name := func(id string) string {
		n := g.Node(id)
		return n.Namespace + "/" + n.Name
	}
	got := map[string]bool{}
	for _, e := range g.Denied {
		got[fmt.Sprintf("%s -> %s %d", name(e.Src), name(e.Dst), e.Port)] = true
		if e.Verdicts.Get("DROPPED") != e.Flows() || e.Protocol != "TCP" {
			t.Errorf("denied attempt %s: %v", e.ID, e.Verdicts)
		}
	}
	want := map[string]bool{}
	for _, p := range truth.Denied {
		want[fmt.Sprintf("%s -> %s %d", p.Src, p.Dst, p.Port)] = true
	}
	for k := range want {
		if !got[k] {
			t.Errorf("dropped connection %s is no denied attempt", k)
		}
	}
	for k := range got {
		if !want[k] {
			t.Errorf("denied attempt %s did not happen", k)
		}
	}
	for id := range g.DeniedNodes {
		if n := name(id); n != "sandbox/attacker" {
			t.Errorf("%s is denied-only, but it has allowed traffic", n)
		}
	}
}

// TestAnomalyBesideDecide: the anomaly stage runs beside decide (it reads
// only the graph) and finds exactly what it finds run on its own; on a
// graph of more edges than AnomalyBesideEdges it runs after decide and
// finds the same; a compile that stops before it, or skips it, does not
// run it.
func TestAnomalyBesideDecide(t *testing.T) {
	f, _ := scenario(t, true)
	res := compile(t, []string{f}, compiler.Options{})
	var beside bool
	for _, tm := range res.Timings {
		if tm.Stage == compiler.StageAnomaly {
			beside = tm.Beside == compiler.StageDecide && tm.Duration > 0
		}
	}
	if !beside {
		t.Errorf("timings %+v: want the anomaly stage beside decide, with its own duration", res.Timings)
	}
	eng, err := rules.NewEngine(context.Background(), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	alone, err := compiler.Anomalies(context.Background(), eng, res.Graph, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(alone.Findings) == 0 || !reflect.DeepEqual(res.Anomalies, alone) {
		t.Errorf("beside decide:\n%+v\nalone:\n%+v", res.Anomalies, alone)
	}
	// A graph larger than AnomalyBesideEdges: after decide, the same.
	defer func(n int) { *compiler.AnomalyBesideEdges = n }(*compiler.AnomalyBesideEdges)
	*compiler.AnomalyBesideEdges = len(res.Graph.Edges) - 1
	after := compile(t, []string{f}, compiler.Options{})
	for _, tm := range after.Timings {
		if tm.Stage == compiler.StageAnomaly && (tm.Beside != "" || tm.Duration <= 0) {
			t.Errorf("timing %+v: want the anomaly stage after decide", tm)
		}
	}
	if !reflect.DeepEqual(after.Anomalies, alone) {
		t.Errorf("after decide:\n%+v\nalone:\n%+v", after.Anomalies, alone)
	}
	*compiler.AnomalyBesideEdges = len(res.Graph.Edges) + len(res.Graph.Denied)
	for _, opts := range []compiler.Options{{StopAfter: compiler.StageDecide}, {NoAnomalies: true}} {
		res := compile(t, []string{f}, opts)
		for _, tm := range res.Timings {
			if tm.Stage == compiler.StageAnomaly {
				t.Errorf("%+v: the anomaly stage ran", opts)
			}
		}
		if res.Anomalies != nil {
			t.Errorf("%+v: anomalies %+v", opts, res.Anomalies)
		}
	}
}

// TestChunkedAnomaliesEqualWhole: the anomaly stage evaluated per chunk
// of sources gives exactly the findings of one evaluation over the whole
// graph, on the ground-truth scenarios (learned, with --include-denied,
// and as explain's attempts), real samples and a flowgen capture, with
// and without a baseline, under settings that make every default
// detector fire; an organisation's Rego is never evaluated in chunks.
func TestChunkedAnomaliesEqualWhole(t *testing.T) {
	ctx := context.Background()
	type capture struct {
		name string
		g    *ir.Graph
	}
	var captures []capture
	var baselines []*ir.Graph
	for _, probe := range []bool{false, true} {
		f, _ := scenario(t, probe)
		for _, denied := range []bool{false, true} {
			opts := compiler.Options{StopAfter: compiler.StageNormalize}
			opts.Learn.Lower.IncludeDenied = denied
			g := compile(t, []string{f}, opts).Graph
			captures = append(captures, capture{fmt.Sprintf("scenario probe=%v include-denied=%v", probe, denied), g})
			if !probe && !denied {
				baselines = append(baselines, g)
			}
		}
		att, _, err := compiler.LearnAttempts(ctx, []string{f}, compiler.LearnOptions{}, agent.Defaults(), true)
		if err != nil {
			t.Fatal(err)
		}
		captures = append(captures, capture{fmt.Sprintf("attempts probe=%v", probe), att.Graph})
	}
	for _, f := range realSamples(t) {
		captures = append(captures, capture{filepath.Base(f), compile(t, []string{f}, compiler.Options{StopAfter: compiler.StageNormalize}).Graph})
	}
	gf := filepath.Join(t.TempDir(), "flowgen.json")
	if err := flowgen.WriteFile(gf, flowgen.Config{Flows: 6000, Workloads: 60, Namespaces: 12, Peers: 12, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	captures = append(captures, capture{"flowgen", compile(t, []string{gf}, compiler.Options{StopAfter: compiler.StageNormalize}).Graph})
	// A baseline of a few namespaces' workloads only: every other
	// namespace's traffic is new (quiet_namespace's baseline form).
	small := irtest.Graph(irtest.Workload("shop", "web", "app=web"), irtest.Workload("default", "api", "app=api"), irtest.Edge("shop/web", "default/api", "TCP/8080"))
	baselines = append(baselines, small)

	sets := [][]string{
		nil,
		{"anomaly.single_port.min_connections=1", "anomaly.quiet_namespace.max_edges=3", "anomaly.quiet_namespace.max_connections=100",
			"anomaly.quiet_namespace.min_namespaces=1", "anomaly.rare_edge.min_peers=1", "anomaly.rare_edge.min_peer_flows=1", "anomaly.rare_edge.max_flows=3",
			"anomaly.scan.min_targets=2", "anomaly.repeated_drops.min_attempts=1", "anomaly.world_no_dns.ignore=[]"},
	}
	fired := map[string]bool{}
	chunked := 0
	for _, set := range sets {
		whole, err := rules.NewEngine(ctx, rules.Options{Set: set, AnomalyChunkEdges: -1})
		if err != nil {
			t.Fatal(err)
		}
		var parts []*rules.Engine
		for _, per := range []int{1, 7, 50} {
			e, err := rules.NewEngine(ctx, rules.Options{Set: set, AnomalyChunkEdges: per})
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, e)
		}
		for _, c := range captures {
			for _, base := range append([]*ir.Graph{nil}, baselines...) {
				want, wantOmitted, err := whole.Anomalies(ctx, c.g, base)
				if err != nil {
					t.Fatal(c.name, err)
				}
				for _, f := range want {
					fired[f.Detector] = true
				}
				for i, e := range parts {
					got, omitted, err := e.Anomalies(ctx, c.g, base)
					if err != nil {
						t.Fatal(c.name, err)
					}
					if !reflect.DeepEqual(got, want) || omitted != wantOmitted {
						t.Errorf("%s, %v, baseline %v, chunks of %d: %d findings (%d omitted), whole %d (%d)\nchunked: %+v\nwhole:   %+v",
							c.name, set, base != nil, []int{1, 7, 50}[i], len(got), omitted, len(want), wantOmitted, got, want)
					}
				}
				if len(c.g.Edges)+len(c.g.Denied) > 1 {
					chunked++
				}
			}
		}
	}
	for _, d := range []string{"scan", "repeated_drops", "rare_edge", "world_no_dns", "quiet_namespace", "single_port", "new_edge"} {
		if !fired[d] {
			t.Errorf("detector %s never fired: the comparison does not cover it", d)
		}
	}
	if chunked == 0 {
		t.Error("no capture was evaluated in chunks")
	}
}
