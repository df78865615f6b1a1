package ir_test

import (
	"testing"

	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/ir/irtest"
)

// The resolve-direction pass decides undecided connections from the ports
// other connections show endpoints listening on, then from system ports,
// and leaves the rest undecided with a warning.
func TestResolveDirection(t *testing.T) {
	g := irtest.Graph(
		irtest.Workload("shop", "redis"),
		irtest.Workload("shop", "cart"),
		irtest.Workload("mon", "prometheus"),
		irtest.Edge("shop/cart", "shop/redis", "TCP/6379"),
	)
	var redis, cart, prom string
	for id, n := range g.Nodes {
		switch n.Name {
		case "redis":
			redis = id
		case "cart":
			cart = id
		case "prometheus":
			prom = id
		}
	}
	for _, e := range g.Edges {
		e.Direction = ir.Counts{{Key: ir.ByIsReply, N: 1}}
	}
	g.Stats = ir.Stats{Records: 9, Flows: 1, Direction: map[string]int64{ir.ByIsReply: 1, ir.DirectionUnknown: 3},
		Skipped: map[string]int64{ir.SkipDirectionUnknown: 8}}
	// A reply from redis:6379 seen at TO_OVERLAY (no is_reply, ACK only).
	g.ObserveUndecided(ir.UndecidedObservation{Src: redis, SrcPort: 6379, Dst: cart, DstPort: 45000, Protocol: "TCP", Verdict: "FORWARDED", Forward: 2, Backward: 1})
	// A scrape to a system port: prometheus -> redis:443 (nothing listens there as far as edges tell).
	g.ObserveUndecided(ir.UndecidedObservation{Src: redis, SrcPort: 443, Dst: prom, DstPort: 50000, Protocol: "TCP", Verdict: "FORWARDED", Forward: 1, Backward: 2})
	// Two unprivileged ports nobody is seen listening on: unknown.
	g.ObserveUndecided(ir.UndecidedObservation{Src: prom, SrcPort: 41000, Dst: redis, DstPort: 42000, Protocol: "TCP", Verdict: "FORWARDED", Forward: 2})
	if ds := ir.Verify(g); len(ds) > 0 {
		t.Fatal(ds)
	}
	ds, _ := ir.Normalize(g, true, nil)
	if len(ds) != 1 || ds[0].Code != "ppc_direction_unknown" || ds[0].Severity != ir.Warning {
		t.Fatalf("diagnostics %v", ds)
	}
	want := map[string]string{
		ir.EdgeID(cart, redis, "TCP", 6379): ir.ByListeningPort,
		ir.EdgeID(prom, redis, "TCP", 443):  ir.ByWellKnownPort,
	}
	for id, kind := range want {
		e := g.Edges[id]
		if e == nil || e.Direction.Get(kind) != 1 {
			t.Errorf("edge %s: %+v, want decided by %s", id, e, kind)
		}
	}
	if len(g.Edges) != 2 || len(g.Undecided) != 1 {
		t.Errorf("edges %d, undecided %d", len(g.Edges), len(g.Undecided))
	}
	s := g.Stats
	if s.Flows != 3 || s.Direction[ir.DirectionUnknown] != 1 || s.Direction[ir.ByListeningPort] != 1 || s.Direction[ir.ByWellKnownPort] != 1 {
		t.Errorf("stats %+v", s)
	}
	// Every record still counted once: 1 flow + 8 skipped before; now
	// 3 flows, 2 still unknown, 1 duplicate and 3 replies.
	if s.Flows+s.SkippedTotal() != s.Records || s.Skipped[ir.SkipDirectionUnknown] != 2 || s.Skipped[ir.SkipReply] != 3 || s.Skipped[ir.SkipDuplicate] != 1 {
		t.Errorf("records not all counted once: %+v", s)
	}
}
