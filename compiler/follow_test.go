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
	fctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- compiler.Follow(fctx, compiler.FollowOptions{
			Learn: compiler.LearnOptions{Hubble: &hubble.Options{Server: addr, DialTimeout: 200 * time.Millisecond}},
			Every: 50 * time.Millisecond, Lag: time.Millisecond,
			Retry: func(error, time.Duration) { mu.Lock(); retries++; mu.Unlock() },
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
	if _, err := hubbletest.StartAt(ctx, addr, all, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(func() bool {
		mu.Lock()
		defer mu.Unlock()
		return snaps[len(snaps)-1].Stats.Records >= int64(len(all))
	})
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
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
