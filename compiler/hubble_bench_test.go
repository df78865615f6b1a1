package compiler_test

import (
	"context"
	"testing"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/hubble"
	"github.com/policypilot/ppc/internal/hubbletest"
)

// BenchmarkLearnHubble learns 100,000 generated flows served over gRPC by
// Cilium's observer service (in process, on 127.0.0.1), beside the same
// flows read from a file: docs/performance.md compares the two.
func BenchmarkLearnHubble(b *testing.B) {
	const n = 100_000
	path := genFlows(b, n)
	rs, err := hubbletest.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := hubbletest.Start(ctx, rs, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		opts compiler.LearnOptions
	}{
		{"grpc", nil, compiler.LearnOptions{Hubble: &hubble.Options{Server: srv.Addr}}},
		{"file", []string{path}, compiler.LearnOptions{}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var edges int
			for b.Loop() {
				g, _, _, err := compiler.Learn(ctx, tc.args, tc.opts)
				if err != nil {
					b.Fatal(err)
				}
				edges = len(g.Edges)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "flows/s")
			b.ReportMetric(float64(edges), "edges")
		})
	}
}
