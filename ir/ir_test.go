package ir_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/ir/irtest"
)

func format(t *testing.T, g *ir.Graph) string {
	t.Helper()
	var b bytes.Buffer
	if err := ir.Format(&b, g); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestWorkloadIDDependsOnLabelsNotOrder(t *testing.T) {
	a := ir.WorkloadID("shop", "api", []string{"k8s:app=api", "k8s:version=v1"})
	b := ir.WorkloadID("shop", "api", []string{"k8s:app=api", "k8s:version=v2"})
	if a == b {
		t.Fatalf("distinct identities share ID %s", a)
	}
	if !strings.HasPrefix(a, "wl:shop/api#") || len(a) != len("wl:shop/api#")+8 {
		t.Errorf("unexpected ID shape %s", a)
	}
	if a != ir.WorkloadID("shop", "api", []string{"k8s:app=api", "k8s:version=v1"}) {
		t.Error("ID not deterministic")
	}
}

func TestObserveKeepsSmallestSamplesAndBounds(t *testing.T) {
	g := irtest.Graph(irtest.Workload("s", "a", "app=a"), irtest.Workload("s", "b", "app=b"))
	var src, dst string
	for id, n := range g.Nodes {
		if n.Name == "a" {
			src = id
		} else {
			dst = id
		}
	}
	for _, line := range []int{9, 3, 7, 1, 5, 3} {
		g.Observe(ir.Observation{Src: src, Dst: dst, Protocol: "TCP", Port: 80, Verdict: "FORWARDED",
			Time: time.Date(2026, 1, 1, 0, 0, line, 0, time.UTC), Pos: ir.Pos{File: "f", Line: line}})
	}
	e := g.Edges[ir.EdgeID(src, dst, "TCP", 80)]
	if e.Flows() != 6 {
		t.Errorf("flows = %d", e.Flows())
	}
	var lines []int
	for _, p := range e.Samples {
		lines = append(lines, p.Line)
	}
	if len(lines) != 3 || lines[0] != 1 || lines[1] != 3 || lines[2] != 5 {
		t.Errorf("samples = %v, want [1 3 5]", lines)
	}
	if e.FirstSeen.Second() != 1 || e.LastSeen.Second() != 9 {
		t.Errorf("first/last = %v/%v", e.FirstSeen, e.LastSeen)
	}
	for i := 0; i < ir.MaxL7Facts+10; i++ {
		g.Observe(ir.Observation{Src: src, Dst: dst, Protocol: "TCP", Port: 80, Verdict: "FORWARDED",
			HTTP: &ir.HTTPFact{Method: "GET", Path: "/p" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)}})
	}
	if len(e.L7.HTTP) != ir.MaxL7Facts || !e.L7.Truncated {
		t.Errorf("http facts = %d truncated=%v", len(e.L7.HTTP), e.L7.Truncated)
	}
}

func sample(t *testing.T) (*ir.Graph, *ir.Graph) {
	a := irtest.Graph(
		irtest.Workload("shop", "web", "app=web"), irtest.Workload("shop", "api", "app=api"),
		irtest.EdgeN("shop/web", "shop/api", "TCP/8080", 3),
		irtest.Edge("shop/api", "fqdn:api.example.com", "TCP/443"),
	)
	b := irtest.Graph(
		irtest.Workload("shop", "web", "app=web"), irtest.Workload("shop", "api", "app=api"),
		irtest.EdgeN("shop/web", "shop/api", "TCP/8080", 2),
		irtest.Edge("entity:host", "shop/api", "TCP/8080"),
	)
	a.AddDNS("203.0.113.7", "api.example.com")
	b.AddDNS("203.0.113.7", "cdn.example.com")
	a.Stats.Skip("reply")
	b.Stats.Skip("reply")
	return a, b
}

func TestMergeIsOrderIndependent(t *testing.T) {
	a1, b1 := sample(t)
	a2, b2 := sample(t)
	ab := ir.New()
	if err := ab.Merge(a1); err != nil {
		t.Fatal(err)
	}
	if err := ab.Merge(b1); err != nil {
		t.Fatal(err)
	}
	ba := ir.New()
	if err := ba.Merge(b2); err != nil {
		t.Fatal(err)
	}
	if err := ba.Merge(a2); err != nil {
		t.Fatal(err)
	}
	if fa, fb := format(t, ab), format(t, ba); fa != fb {
		t.Fatalf("merge depends on order:\n%s\nvs\n%s", fa, fb)
	}
	if ds := ir.Verify(ab); len(ds) > 0 {
		t.Fatal(ds)
	}
	out := format(t, ab)
	for _, want := range []string{"flows=5 FORWARDED=5", "skipped[reply]=2", "dns 203.0.113.7 api.example.com cdn.example.com"} {
		if !strings.Contains(out, want) {
			t.Errorf("merged dump lacks %q:\n%s", want, out)
		}
	}
}

func TestMergeRejectsConflictingNodes(t *testing.T) {
	a := ir.New()
	a.AddNode(&ir.Node{ID: "fqdn:x.example", Kind: ir.KindFQDN, FQDN: "x.example"})
	b := ir.New()
	b.AddNode(&ir.Node{ID: "fqdn:x.example", Kind: ir.KindFQDN, FQDN: "y.example"})
	if err := a.Merge(b); err == nil {
		t.Fatal("conflicting nodes merged")
	}
}

func TestJSONRoundTripAndVersion(t *testing.T) {
	g, _ := sample(t)
	var buf bytes.Buffer
	if err := g.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if !ir.IsIR(buf.Bytes()) {
		t.Fatal("IsIR does not recognise a snapshot")
	}
	g2 := ir.New()
	if err := json.Unmarshal(buf.Bytes(), g2); err != nil {
		t.Fatal(err)
	}
	if format(t, g) != format(t, g2) {
		t.Fatal("round trip changed the graph")
	}
	var buf2 bytes.Buffer
	g2.Write(&buf2)
	if !bytes.Equal(buf.Bytes(), buf2.Bytes()) {
		t.Fatal("encoding not deterministic")
	}
	cur := []byte(fmt.Sprintf(`"ir_version": %d`, ir.Version))
	bad := bytes.Replace(buf.Bytes(), cur, []byte(`"ir_version": 99`), 1)
	if err := json.Unmarshal(bad, ir.New()); err == nil || !strings.Contains(err.Error(), "unsupported ir_version 99") {
		t.Errorf("version not checked: %v", err)
	}
	old := bytes.Replace(buf.Bytes(), cur, []byte(`"ir_version": 1`), 1)
	if err := json.Unmarshal(old, ir.New()); err == nil || !strings.Contains(err.Error(), "learn the flows again") {
		t.Errorf("version 1 not explained: %v", err)
	}
	unknown := bytes.Replace(buf.Bytes(), cur, append(cur, []byte(`, "bogus": 1`)...), 1)
	if err := json.Unmarshal(unknown, ir.New()); err == nil {
		t.Error("unknown field accepted")
	}
	if ir.IsIR([]byte(`{"flow":{}}`)) || ir.IsIR([]byte(`[{"ir_version":1}]`)) {
		t.Error("IsIR accepts flows")
	}
}

func TestVerifyFindsBrokenGraphs(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(g *ir.Graph)
		want   string
	}{
		{"dangling edge", func(g *ir.Graph) {
			for id, n := range g.Nodes {
				if n.Kind == ir.KindFQDN {
					delete(g.Nodes, id)
				}
			}
		}, "is not a node"},
		{"edge id mismatch", func(g *ir.Graph) {
			for _, e := range g.Edges {
				e.Port = 1
				break
			}
		}, "edge id mismatch"},
		{"bad cidr", func(g *ir.Graph) {
			g.Nodes["cidr:10.0.0.1/8"] = &ir.Node{ID: "cidr:10.0.0.1/8", Kind: ir.KindCIDR, CIDR: "10.0.0.1/8"}
		}, "invalid prefix"},
		{"fqdn with dot", func(g *ir.Graph) {
			g.Nodes["fqdn:x."] = &ir.Node{ID: "fqdn:x.", Kind: ir.KindFQDN, FQDN: "x."}
		}, "trailing dot"},
		{"no workload end", func(g *ir.Graph) {
			g.AddNode(&ir.Node{ID: "ent:host", Kind: ir.KindEntity, Entities: []string{"host"}})
			g.Observe(ir.Observation{Src: "ent:host", Dst: "fqdn:api.example.com", Protocol: "TCP", Port: 1, Verdict: "FORWARDED"})
		}, "no workload endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, _ := sample(t)
			tt.mutate(g)
			ds := ir.Verify(g)
			if !strings.Contains(ds.Error(), tt.want) {
				t.Errorf("Verify = %v, want %q", ds, tt.want)
			}
		})
	}
}

func TestPasses(t *testing.T) {
	g := irtest.Graph(
		irtest.Workload("shop", "api", "app=api"),
		irtest.Edge("shop/api", "cidr:203.0.113.7/32", "TCP/443"),
		irtest.Edge("shop/api", "cidr:203.0.113.8/32", "TCP/443"),
	)
	// An unlabelled workload (field-masked) that resolve-pods attaches.
	for _, n := range g.Nodes {
		if n.Name == "api" {
			n.Pods = []string{"api-v1"}
		}
	}
	masked := &ir.Node{ID: ir.WorkloadID("shop", "api-v1", nil), Kind: ir.KindWorkload, Namespace: "shop", Name: "api-v1"}
	g.AddNode(masked)
	g.Observe(ir.Observation{Src: masked.ID, Dst: "cidr:203.0.113.7/32", Protocol: "TCP", Port: 443, Verdict: "FORWARDED"})
	g.AddDNS("203.0.113.7", "api.example.com")
	g.AddDNS("203.0.113.7", "a-first.example.com")
	ds, timings := ir.Normalize(g, true, nil)
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	if len(timings) != len(ir.Passes) {
		t.Errorf("timings for %d passes, want %d", len(timings), len(ir.Passes))
	}
	out := format(t, g)
	for _, want := range []string{
		"node fqdn:a-first.example.com fqdn",          // first name in sorted order
		"-> fqdn:a-first.example.com TCP/443 flows=2", // masked workload's flow attached and merged
		"-> cidr:203.0.113.8/32 TCP/443 flows=1",      // no DNS name: stays a CIDR
	} {
		if !strings.Contains(out, want) {
			t.Errorf("normalised graph lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "api-v1#") || strings.Contains(out, "node cidr:203.0.113.7/32") {
		t.Errorf("prune left unused nodes:\n%s", out)
	}
	// Skipping an optional pass works; required ones always run.
	g2 := irtest.Graph(irtest.Workload("s", "a", "app=a"), irtest.Edge("s/a", "cidr:203.0.113.7/32", "TCP/1"))
	g2.AddDNS("203.0.113.7", "x.example")
	ir.Normalize(g2, true, map[string]bool{"resolve-dns": true, "prune": true})
	if !strings.Contains(format(t, g2), "cidr:203.0.113.7/32 TCP/1") {
		t.Error("skipped pass ran")
	}
}

func TestPassPanicBecomesDiagnostic(t *testing.T) {
	old := ir.Passes
	defer func() { ir.Passes = old }()
	ir.Passes = []ir.Pass{{Name: "boom", Run: func(*ir.Graph) ir.Diagnostics { panic("kaboom") }}}
	ds, _ := ir.Normalize(ir.New(), true, nil)
	if len(ds) != 1 || ds[0].Code != "ppc_internal_error" || !strings.Contains(ds[0].Msg, "pass boom: kaboom") {
		t.Fatalf("got %v", ds)
	}
}

func TestDiagnosticsSortAndFormat(t *testing.T) {
	ds := ir.Diagnostics{
		{Code: "ppc_b", Severity: ir.Error, Pos: ir.Pos{File: "b", Line: 2}, Msg: "two"},
		{Code: "ppc_a", Severity: ir.Warning, Pos: ir.Pos{File: "a", Line: 10}, Object: "ns/p", Path: []string{"spec", "ingress", "[0]", "toPorts"}, Msg: "one"},
	}
	ds.Sort()
	if got := ds.Error(); got != "a:10: ns/p: spec.ingress[0].toPorts: ppc_a: one\nb:2: ppc_b: two" {
		t.Errorf("got %q", got)
	}
	if !ds.HasErrors() || ds.Count(ir.Warning) != 2 || ds.Count(ir.Error) != 1 || ds.Err() == nil {
		t.Error("severity accounting wrong")
	}
	if (ir.Diagnostics{ds[0]}).Err() != nil {
		t.Error("warnings alone are an error")
	}
}

// TestWriteEqualsMarshalIndent holds the streamed writer to the bytes
// json.MarshalIndent gives, on an empty graph, a sample with every kind of
// node and undecided groups and DNS names, and a graph with no edges.
func TestWriteEqualsMarshalIndent(t *testing.T) {
	sampled, _ := sample(t)
	noEdges := irtest.Graph(irtest.Workload("a", "web", "app=web"))
	sampled.Undecided["u1"] = &ir.Undecided{ID: "u1", A: "x", B: "y", Protocol: "TCP", PortA: 1, PortB: 2, Connections: 3, Verdicts: map[string]int64{"FORWARDED": 3}, Samples: []ir.Pos{{File: "f<&>", Line: 1}}}
	for name, g := range map[string]*ir.Graph{"empty": ir.New(), "sample": sampled, "no edges": noEdges} {
		want, err := json.MarshalIndent(g, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := g.Write(&got); err != nil {
			t.Fatal(err)
		}
		if got.String() != string(want)+"\n" {
			t.Errorf("%s: Write differs from MarshalIndent:\n%s\nwant:\n%s", name, got.String(), want)
		}
	}
}

// TestDeniedAttempts: attempts a policy dropped live beside the learned
// edges; their endpoints are learned nodes when a learned connection
// names them too and denied-only nodes otherwise, through merges and a
// JSON round trip.
func TestDeniedAttempts(t *testing.T) {
	g := irtest.Graph(
		irtest.Workload("shop", "web", "app=web"),
		irtest.Workload("shop", "api", "app=api"),
		irtest.Edge("shop/web", "shop/api", "TCP/8080"),
	)
	web, api := irtest.IDs(g)["web"], irtest.IDs(g)["api"]
	probe := &ir.Node{ID: ir.WorkloadID("sandbox", "probe", []string{"k8s:app=probe"}), Kind: ir.KindWorkload, Namespace: "sandbox", Name: "probe", Labels: []string{"k8s:app=probe"}}
	g.AddNode(probe)
	for _, dst := range []string{web, api} {
		g.ObserveDenied(ir.EdgeID(probe.ID, dst, "TCP", 22), ir.Observation{Src: probe.ID, Dst: dst, Protocol: "TCP", Port: 22, Verdict: "DROPPED"})
	}
	g.SettleDenied()
	if _, ok := g.Nodes[probe.ID]; ok || g.DeniedNodes[probe.ID] == nil {
		t.Fatalf("the prober is not denied-only: nodes %v, denied-only %v", len(g.Nodes), len(g.DeniedNodes))
	}
	if g.Node(probe.ID) != g.DeniedNodes[probe.ID] || g.Node(web) != g.Nodes[web] || g.Node("nope") != nil {
		t.Error("Node does not look in both tables")
	}
	if ds := ir.Verify(g); len(ds) > 0 {
		t.Fatal(ds)
	}
	var buf bytes.Buffer
	if err := g.Write(&buf); err != nil {
		t.Fatal(err)
	}
	g2 := ir.New()
	if err := json.Unmarshal(buf.Bytes(), g2); err != nil {
		t.Fatal(err)
	}
	if format(t, g) != format(t, g2) || !strings.Contains(format(t, g2), "denied "+ir.EdgeID(probe.ID, api, "TCP", 22)+" flows=1 DROPPED=1") {
		t.Fatalf("round trip:\n%s", format(t, g2))
	}
	// A later snapshot in which the prober is a learned client: merged, it
	// is a learned node, and its attempts stay attempts.
	later := ir.New()
	later.AddNode(&ir.Node{ID: api, Kind: ir.KindWorkload, Namespace: "shop", Name: "api", Labels: g.Nodes[api].Labels})
	later.AddNode(&ir.Node{ID: probe.ID, Kind: ir.KindWorkload, Namespace: "sandbox", Name: "probe", Labels: probe.Labels})
	later.Observe(ir.Observation{Src: probe.ID, Dst: api, Protocol: "TCP", Port: 8080, Verdict: "FORWARDED"})
	if err := g2.Merge(later); err != nil {
		t.Fatal(err)
	}
	if _, ok := g2.Nodes[probe.ID]; !ok || len(g2.DeniedNodes) != 0 || len(g2.Denied) != 2 {
		t.Errorf("after merge: learned %v, denied-only %d, denied %d", ok, len(g2.DeniedNodes), len(g2.Denied))
	}
	if ds := ir.Verify(g2); len(ds) > 0 {
		t.Fatal(ds)
	}
	// Broken: a denied-only node that is also learned, one nothing names.
	g2.DeniedNodes = map[string]*ir.Node{probe.ID: probe, "fqdn:x.example": {ID: "fqdn:x.example", Kind: ir.KindFQDN, FQDN: "x.example"}}
	got := ir.Verify(g2).Error()
	for _, want := range []string{"both learned and denied-only", "denied-only node no denied attempt names"} {
		if !strings.Contains(got, want) {
			t.Errorf("Verify misses %q: %s", want, got)
		}
	}
}

// TestAddSample: whatever order positions arrive in, a list keeps the
// MaxSamples smallest, sorted and without duplicates (a position without
// a file is ignored), in no more room than MaxSamples.
func TestAddSample(t *testing.T) {
	for _, tt := range []struct {
		in   []int
		want []int
	}{
		{nil, nil},
		{[]int{5}, []int{5}},
		{[]int{5, 5, 5}, []int{5}},
		{[]int{3, 2, 1}, []int{1, 2, 3}},
		{[]int{9, 1, 8, 2, 7, 3}, []int{1, 2, 3}},
		{[]int{1, 2, 3, 0}, []int{0, 1, 2}},
		{[]int{1, 3, 4, 2}, []int{1, 2, 3}},
		{[]int{4, 5, 6, 7}, []int{4, 5, 6}},
	} {
		var ss []ir.Pos
		for _, l := range tt.in {
			ss = ir.AddSample(ss, ir.Pos{File: "f", Line: l})
		}
		ss = ir.AddSample(ss, ir.Pos{Line: 1})
		var got []int
		for _, p := range ss {
			got = append(got, p.Line)
		}
		if !slices.Equal(got, tt.want) || cap(ss) > ir.MaxSamples {
			t.Errorf("AddSample(%v) = %v (cap %d), want %v", tt.in, got, cap(ss), tt.want)
		}
	}
}
