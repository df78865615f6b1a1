package rules_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/ir/irtest"
	"github.com/policypilot/ppc/rules"
)

// probeGraph: web calls api; a prober's attempts on eight ports of the
// database were dropped by policy (denied attempts of the IR).
func probeGraph() *ir.Graph {
	g := irtest.Graph(
		irtest.Workload("shop", "web", "app=web"), irtest.Workload("shop", "api", "app=api"), irtest.Workload("shop", "db", "app=db"),
		irtest.EdgeN("shop/web", "shop/api", "TCP/8080", 50),
	)
	probe := &ir.Node{ID: ir.WorkloadID("ops", "probe", []string{"k8s:app=probe"}), Kind: ir.KindWorkload, Namespace: "ops", Name: "probe", Labels: []string{"k8s:app=probe"}}
	g.AddNode(probe)
	db := irtest.IDs(g)["db"]
	for _, port := range []uint16{22, 23, 80, 443, 3306, 6379, 9200, 11211} {
		g.ObserveDenied(ir.EdgeID(probe.ID, db, "TCP", port), ir.Observation{Src: probe.ID, Dst: db, Protocol: "TCP", Port: port, Verdict: "DROPPED"})
	}
	g.SettleDenied()
	return g
}

func TestAnomalies(t *testing.T) {
	ctx := context.Background()
	g := probeGraph()
	eng, err := rules.NewEngine(ctx, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fs, omitted, err := eng.Anomalies(ctx, g, nil)
	if err != nil || omitted != 0 {
		t.Fatal(err, omitted)
	}
	if len(fs) == 0 || fs[0].Detector != "scan" || !strings.HasPrefix(fs[0].Subject, "wl:ops/probe#") || len(fs[0].Edges) != 8 {
		t.Fatalf("first finding %+v, want the prober's scan", fs)
	}
	for i := 1; i < len(fs); i++ {
		if fs[i].Score > fs[i-1].Score {
			t.Errorf("not ranked: %v", fs)
		}
	}
	// Against a baseline that has web -> api and nothing of the prober:
	// its attempts are new.
	base := irtest.Graph(irtest.Workload("shop", "web", "app=web"), irtest.Workload("shop", "api", "app=api"), irtest.Edge("shop/web", "shop/api", "TCP/8080"))
	fs, _, err = eng.Anomalies(ctx, g, base)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range fs {
		if f.Detector == "new_edge" {
			n++
			if !strings.Contains(f.Msg, "ops/probe") || !strings.Contains(f.Msg, "dropped by policy") {
				t.Errorf("new edge %q", f.Msg)
			}
		}
	}
	if n != 8 {
		t.Errorf("%d new edges, want the prober's 8: %v", n, fs)
	}
}

// TestAnomalyContract: an organisation detector's findings are read
// strictly.
func TestAnomalyContract(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct{ finding, want string }{
		{`{"detector": "x", "score": 101, "subject": "", "msg": "m", "edges": []}`, "want a score from 0 to 100"},
		{`{"detector": "x", "score": 5, "subject": "wl:nope", "msg": "m", "edges": []}`, `"wl:nope" is no node`},
		{`{"detector": "x", "score": 5, "subject": "", "msg": "m", "edges": ["a -> b TCP/1"]}`, "is no edge or denied attempt"},
		{`{"detector": "x", "score": 5, "msg": "m", "edges": [], "why": 1}`, "not a field of an anomaly finding"},
		{`{"detector": "", "score": 5, "msg": "m", "edges": []}`, "detector and msg are required"},
	} {
		p := writePack(t, map[string]string{"org.rego": "package ppc.ext.org\n\nanomalies contains " + tt.finding})
		eng, err := rules.NewEngine(ctx, rules.Options{Packs: []*rules.Pack{p}})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = eng.Anomalies(ctx, probeGraph(), nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.finding, err, tt.want)
		}
	}
	p := writePack(t, map[string]string{"org.rego": `package ppc.ext.org

anomalies contains {"detector": "org", "score": 100, "subject": "", "msg": "ours", "edges": []}
`})
	eng, err := rules.NewEngine(ctx, rules.Options{Packs: []*rules.Pack{p}})
	if err != nil {
		t.Fatal(err)
	}
	fs, _, err := eng.Anomalies(ctx, probeGraph(), nil)
	if err != nil || fs[0].Detector != "org" {
		t.Errorf("organisation finding not first: %v %v", fs, err)
	}
}

// TestAnomalyAggregates: the aggregates handed to the detectors count
// what the edges say.
func TestAnomalyAggregates(t *testing.T) {
	g := probeGraph()
	in := rules.AnomalyInput(g, nil)
	probe := irtest.IDs(g)["probe"]
	src := in["by_source"].(map[string]any)[probe].(map[string]any)
	if js(src["targets"]) != "8" || len(src["dropped"].([]any)) != 8 || len(src["flows"].([]any)) != 0 {
		t.Errorf("prober: %s", js(src))
	}
	if d := src["dropped"].([]any)[0].([]any); js(d[1]) != "1" || d[2] != false {
		t.Errorf("a denied attempt: %s", js(d))
	}
	nv, err := ast.InterfaceToValue(in["by_namespace"]) // OPA's value already (its edge IDs shared)
	if err != nil {
		t.Fatal(err)
	}
	nsx, err := ast.JSON(nv)
	if err != nil {
		t.Fatal(err)
	}
	ns := nsx.(map[string]any)
	if js(ns["ops"]) == "" || len(ns["ops"].(map[string]any)["edges"].([]any)) != 8 || js(ns["shop"].(map[string]any)["connections"]) != "58" {
		t.Errorf("namespaces: %s", js(ns))
	}
	if p := in["by_port"].(map[string]any)["TCP/8080"].(map[string]any); js(p["edges"]) != "1" || js(p["connections"]) != "50" {
		t.Errorf("TCP/8080: %s", js(p))
	}
	if _, ok := in["by_port"].(map[string]any)["TCP/22"]; ok {
		t.Error("a port only denied attempts used is counted as used")
	}
	if js(in["connections"]) != "50" {
		t.Errorf("connections %s", js(in["connections"]))
	}
}

// TestInputEdgeEnds: every edge of the packs' inputs (the decision's and
// the anomaly stage's, denied attempts too) carries its two ends as the
// input's own node objects, complete (display, denied_only) before any
// edge holds them.
func TestInputEdgeEnds(t *testing.T) {
	g := probeGraph()
	for name, in := range map[string]map[string]any{"decide": rules.Input(g), "anomaly": rules.AnomalyInput(g, nil)} {
		nodes := in["nodes"].(map[string]any)
		n := 0
		for _, key := range []string{"edges", "denied"} {
			es, _ := in[key].(map[string]any)
			for id, e := range es {
				o := e.(ast.Object)
				for _, end := range [][2]string{{"src", "src_node"}, {"dst", "dst_node"}} {
					nid := string(o.Get(ast.InternedTerm(end[0])).Value.(ast.String))
					got := o.Get(ast.InternedTerm(end[1]))
					want, ok := nodes[nid].(ast.Object)
					if got == nil || !ok || got.Value.Compare(want) != 0 {
						t.Errorf("%s: %s %s = %v, want node %s", name, id, end[1], got, nid)
					}
					if name == "anomaly" && (got == nil || got.Value.(ast.Object).Get(ast.InternedTerm("display")) == nil) {
						t.Errorf("%s: %s %s has no display name", name, id, end[1])
					}
				}
				n++
			}
		}
		if got := js(in["protocols"]); got != `{"TCP":1}` {
			t.Errorf("%s: protocols %s, want the one learned TCP edge", name, got)
		}
		if want := len(g.Edges); name == "anomaly" {
			if want += len(g.Denied); n != want {
				t.Errorf("%s: %d edges checked, want %d", name, n, want)
			}
		} else if n != want {
			t.Errorf("%s: %d edges checked, want %d", name, n, want)
		}
	}
}

// TestAnomalyChunksLetGo: the anomaly stage holds one chunk's input at a
// time. Each of 1,000 sources reaches ten workloads and one public
// address (a world_no_dns finding each); evaluated in chunks of 1,100
// edges, what the process holds after the last chunk must not have
// grown with the chunks before it. Keeping the findings as OPA's terms
// kept every chunk's input: a finding's subject is a key of the chunk's
// by_source, and OPA allocates an object's keys and values in one block
// (4 MB here, against 0.5 MB for the findings themselves; 134 MB at
// 500k connections).
func TestAnomalyChunksLetGo(t *testing.T) {
	items := []irtest.Item{}
	for i := range 1000 {
		ns := fmt.Sprintf("ns-%02d", i/50)
		items = append(items, irtest.Workload(ns, fmt.Sprintf("w-%d", i), fmt.Sprintf("app=w-%d", i)))
	}
	for i := range 1000 {
		src := fmt.Sprintf("ns-%02d/w-%d", i/50, i)
		for k := 1; k <= 10; k++ {
			j := (i + 37*k) % 1000
			items = append(items, irtest.Edge(src, fmt.Sprintf("ns-%02d/w-%d", j/50, j), fmt.Sprintf("TCP/%d", 8000+k)))
		}
		items = append(items, irtest.Edge(src, fmt.Sprintf("cidr:198.51.%d.%d/32", i/256, i%256), "TCP/443"))
	}
	g := irtest.Graph(items...)
	eng, err := rules.NewEngine(context.Background(), rules.Options{AnomalyChunkEdges: 1100, Set: []string{"anomaly.world_no_dns.ignore=[]"}})
	if err != nil {
		t.Fatal(err)
	}
	var heap []uint64
	*rules.AnomalyChunkDone = func(int) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap = append(heap, ms.HeapAlloc)
	}
	defer func() { *rules.AnomalyChunkDone = nil }()
	fs, _, err := eng.Anomalies(context.Background(), g, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range fs {
		if f.Detector == "world_no_dns" {
			n++
		}
	}
	if n != 1000 || len(heap) < 8 {
		t.Fatalf("%d world_no_dns findings in %d chunks, want 1,000 in at least 8", n, len(heap))
	}
	if grew := int64(heap[len(heap)-1]) - int64(heap[0]); grew > 2<<20 {
		t.Errorf("the heap grew by %.1f MB over %d chunks (%d → %d bytes): a chunk's input outlives it", float64(grew)/1e6, len(heap), heap[0], heap[len(heap)-1])
	}
}
