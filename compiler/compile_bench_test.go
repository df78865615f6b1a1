package compiler_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/internal/flowgen"
)

// Figures, the machine and how to rerun them: docs/performance.md
// (make bench). Live heap after learning follows distinct edges, not
// flows.
func BenchmarkLearn(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			path := genFlows(b, n)
			fi, _ := os.Stat(path)
			b.SetBytes(fi.Size())
			var edges int
			var live uint64
			for b.Loop() {
				res, err := compiler.Compile(context.Background(), []string{path}, compiler.Options{StopAfter: compiler.StageNormalize})
				if err != nil {
					b.Fatal(err)
				}
				edges = len(res.Graph.Edges)
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				live = ms.HeapAlloc
				runtime.KeepAlive(res)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "flows/s")
			b.ReportMetric(float64(edges), "edges")
			b.ReportMetric(float64(live)/(1<<20), "live-MiB")
		})
	}
}

// BenchmarkCompile runs the whole pipeline (learn, decide, synthesize,
// verify, replay) on generated traffic over 500 workloads.
func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			path := genFlows(b, n)
			var pols int
			for b.Loop() {
				res := compile(b, []string{path}, compiler.Options{})
				if res.Diagnostics.HasErrors() {
					b.Fatal(res.Diagnostics)
				}
				pols = len(res.Policies)
			}
			b.ReportMetric(float64(pols), "policies")
		})
	}
}

func genFlows(b testing.TB, n int) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "flows.ndjson")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := flowgen.Write(f, flowgen.Config{Flows: n, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	// Written back before anything is timed: writeback running under a
	// benchmark skews it.
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}
