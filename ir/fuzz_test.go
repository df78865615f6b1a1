package ir_test

import (
	"bytes"
	"testing"

	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/ir/irtest"
)

// FuzzUnmarshal: an IR snapshot (ppc learn's output, read back by learn,
// compile and --baseline) never panics the reader; what it accepts keeps
// every invariant and round-trips to the same graph.
func FuzzUnmarshal(f *testing.F) {
	g := irtest.Graph(irtest.Workload("shop", "web", "app=web"), irtest.Workload("shop", "api", "app=api"),
		irtest.Edge("shop/web", "shop/api", "TCP/8080"), irtest.Edge("shop/web", "cidr:203.0.113.7/32", "TCP/443"))
	probe := &ir.Node{ID: ir.WorkloadID("ops", "probe", []string{"k8s:app=probe"}), Kind: ir.KindWorkload, Namespace: "ops", Name: "probe", Labels: []string{"k8s:app=probe"}}
	g.AddNode(probe)
	for id, n := range g.Nodes {
		if n.Name == "api" {
			g.ObserveDenied(ir.EdgeID(probe.ID, id, "TCP", 22), ir.Observation{Src: probe.ID, Dst: id, Protocol: "TCP", Port: 22, Verdict: "DROPPED"})
		}
	}
	g.SettleDenied()
	var b bytes.Buffer
	if err := g.Write(&b); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add([]byte(`{"ir_version": 2, "stats": {"records": 0, "flows": 0}, "nodes": [], "edges": []}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		g := ir.New()
		if err := g.UnmarshalJSON(data); err != nil {
			return
		}
		if ds := ir.Verify(g); len(ds) > 0 {
			t.Fatalf("accepted a graph that breaks invariants: %v", ds)
		}
		var out bytes.Buffer
		if err := g.Write(&out); err != nil {
			t.Fatal(err)
		}
		h := ir.New()
		if err := h.UnmarshalJSON(out.Bytes()); err != nil {
			t.Fatalf("its own output does not read back: %v", err)
		}
		var a, c bytes.Buffer
		ir.Format(&a, g)
		ir.Format(&c, h)
		if a.String() != c.String() {
			t.Fatalf("round trip changed the graph:\n%s\nvs\n%s", a.String(), c.String())
		}
	})
}
