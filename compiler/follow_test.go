package compiler_test

import (
	"context"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	observerpb "github.com/cilium/cilium/api/v1/observer"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/hubble"
	"github.com/policypilot/ppc/internal/hubbletest"
	"github.com/policypilot/ppc/internal/testutil"
	"github.com/policypilot/ppc/ir"
)

// edgeSet lists a graph's edges with their connection counts.
func edgeSet(g *ir.Graph) string {
	var out []string
	for _, e := range g.SortedEdges() {
		out = append(out, e.ID)
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// TestFollowSurvivesRestart: Follow learns in rounds; the server restarts
// between two rounds (new flows arrived meanwhile); the failed round is
// retried for the same window and the final snapshot holds every flow the
// server had, as one read of all of them does.
func TestFollowSurvivesRestart(t *testing.T) {
	rs, err := hubbletest.Load(filepath.Join(testutil.Testdata(), "flows", "hubble-otel-basic-sample-400-tcp-flows.json"))
	if err != nil {
		t.Fatal(err)
	}
	half := len(rs) / 2
	// The second half arrives while the server is away: its flows happen
	// then, in order.
	later := func() []*observerpb.GetFlowsResponse {
		return append(append([]*observerpb.GetFlowsResponse(nil), rs[:half]...), hubbletest.Retimed(rs[half:], time.Now())...)
	}
	var all []*observerpb.GetFlowsResponse

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := hubbletest.Start(ctx, rs[:half], nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr
	var mu sync.Mutex
	var snaps []*ir.Graph
	var retries int
	var gaps []compiler.Gap
	fctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- compiler.Follow(fctx, compiler.FollowOptions{
			Learn: compiler.LearnOptions{Hubble: &hubble.Options{Server: addr, DialTimeout: 200 * time.Millisecond}},
			Every: 50 * time.Millisecond, Lag: time.Millisecond,
			Retry: func(error, time.Duration) { mu.Lock(); retries++; mu.Unlock() },
			Gap:   func(g compiler.Gap) { mu.Lock(); gaps = append(gaps, g); mu.Unlock() },
		}, func(g *ir.Graph) error { mu.Lock(); snaps = append(snaps, g); mu.Unlock(); return nil })
	}()
	waitFor := func(cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("timed out")
			}
		}
	}
	waitFor(func() bool { mu.Lock(); defer mu.Unlock(); return len(snaps) > 0 })
	srv.Stop() // restart: gone for a while, then back with the new flows
	waitFor(func() bool { mu.Lock(); defer mu.Unlock(); return retries > 0 })
	all = later()
	back, err := hubbletest.StartAt(ctx, addr, all, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Relay restarted; the nodes behind it did not, and it reports the
	// uptime of the oldest (Follow asks again a second after the failure).
	back.SetStatus(func(r *observerpb.ServerStatusResponse) { r.UptimeNs = uint64(time.Hour) })
	waitFor(func() bool {
		mu.Lock()
		defer mu.Unlock()
		return snaps[len(snaps)-1].Stats.Records >= int64(len(all))
	})
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(gaps) > 0 {
		t.Errorf("nothing was lost, yet Follow reports gaps: %+v", gaps)
	}

	ref, err := hubbletest.Start(ctx, all, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := compiler.Compile(ctx, nil, compiler.Options{Learn: compiler.LearnOptions{Hubble: &hubble.Options{Server: ref.Addr}}, StopAfter: compiler.StageNormalize})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	last := snaps[len(snaps)-1]
	mu.Unlock()
	if last.Stats.Records != res.Graph.Stats.Records || edgeSet(last) != edgeSet(res.Graph) {
		t.Errorf("after the restart: %d records, edges\n%s\none read of everything: %d records, edges\n%s",
			last.Stats.Records, edgeSet(last), res.Graph.Stats.Records, edgeSet(res.Graph))
	}
}

// TestFollowReportsGaps: what the server's status shows Follow could not
// get is reported once per round, with its window: nodes Relay could not
// reach, a buffer that overflowed between two rounds, a server that
// restarted after the window began.
func TestFollowReportsGaps(t *testing.T) {
	rs, err := hubbletest.Load(filepath.Join(testutil.Testdata(), "flows", "hubble-otel-basic-sample-10-flows.json"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := hubbletest.Start(ctx, rs, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []compiler.Gap
	rounds := 0
	// Each round's status, as the server answers it.
	statuses := []func(*observerpb.ServerStatusResponse){
		func(r *observerpb.ServerStatusResponse) { r.SeenFlows, r.MaxFlows = 1_000, 4_096 },
		func(r *observerpb.ServerStatusResponse) { r.SeenFlows, r.MaxFlows = 2_000, 4_096 }, // 1,000 new: fits
		func(r *observerpb.ServerStatusResponse) {
			r.SeenFlows, r.MaxFlows = 3_000, 4_096
			r.NumUnavailableNodes = wrapperspb.UInt32(2)
			r.UnavailableNodes = []string{"kind-worker", "kind-worker2"}
		},
		func(r *observerpb.ServerStatusResponse) { r.SeenFlows, r.MaxFlows = 10_000, 4_096 }, // 7,000 new
		func(r *observerpb.ServerStatusResponse) { r.SeenFlows, r.MaxFlows = 500, 4_096 },    // a node restarted
		func(r *observerpb.ServerStatusResponse) { r.SeenFlows, r.UptimeNs = 900, uint64(time.Millisecond) },
	}
	next := func() {
		mu.Lock()
		defer mu.Unlock()
		if rounds < len(statuses) {
			edit := statuses[rounds]
			srv.SetStatus(func(r *observerpb.ServerStatusResponse) { r.UptimeNs = uint64(time.Hour); edit(r) })
		}
		rounds++
	}
	next()
	fctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- compiler.Follow(fctx, compiler.FollowOptions{
			Learn: compiler.LearnOptions{Hubble: &hubble.Options{Server: srv.Addr}},
			Every: 20 * time.Millisecond, Lag: time.Millisecond,
			Gap: func(g compiler.Gap) { mu.Lock(); got = append(got, g); mu.Unlock() },
		}, func(*ir.Graph) error {
			next()
			mu.Lock()
			defer mu.Unlock()
			if rounds > len(statuses) {
				stop()
			}
			return nil
		})
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, g := range got {
		kinds = append(kinds, g.Kind)
		if g.From.IsZero() || !g.To.After(g.From) {
			t.Errorf("%s gap without its window: %s to %s", g.Kind, g.From, g.To)
		}
	}
	if want := "nodes overrun restart restart"; strings.Join(kinds, " ") != want {
		t.Fatalf("gaps %q, want %q: %+v", strings.Join(kinds, " "), want, got)
	}
	for i, want := range []string{"2 nodes did not answer Hubble Relay (kind-worker, kind-worker2)", "saw 7000 flows since the previous round but holds 4096: about 2904", "went down (10000 to 500)", "the server started at"} {
		if !strings.Contains(got[i].Msg, want) {
			t.Errorf("gap %d: %q, want it to say %q", i, got[i].Msg, want)
		}
	}
	if got[1].Lost != 2904 {
		t.Errorf("overrun lost %d flows, want 2904", got[1].Lost)
	}
}
