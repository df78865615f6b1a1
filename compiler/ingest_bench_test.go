package compiler_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cilium/cilium/api/v1/observer"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/ir"
)

func learnGraph(t testing.TB, files []string, slow bool) *ir.Graph {
	t.Helper()
	g, _, _, err := compiler.Learn(context.Background(), files, compiler.LearnOptions{Protojson: slow})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestFastPathIdenticalIR: the fast decoder and protojson give the same
// graph, byte for byte, on every real sample and on generated traffic.
func TestFastPathIdenticalIR(t *testing.T) {
	files := append(realSamples(t), genFlows(t, 20_000))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { checkSameIR(t, f) })
	}
}

// checkSameIR fails unless learning path with the fast decoder and with
// protojson gives the same IR, byte for byte.
func checkSameIR(t testing.TB, path string) {
	t.Helper()
	var fast, slow bytes.Buffer
	if err := ir.Format(&fast, learnGraph(t, []string{path}, false)); err != nil {
		t.Fatal(err)
	}
	if err := ir.Format(&slow, learnGraph(t, []string{path}, true)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fast.Bytes(), slow.Bytes()) {
		t.Fatalf("the fast path changes the IR of %s", path)
	}
}

// BenchmarkIngest measures ingest + lower (`ppc learn`) side by side with
// the baseline: protojson.Unmarshal of each NDJSON line into
// observer.GetFlowsResponse, which is what `hubble observe --input-file`
// does, on the same generated file. Compare the flows/s (and MB/s). It
// first checks that the fast path and protojson give the same IR.
func BenchmarkIngest(b *testing.B) {
	path := genFlows(b, 200_000)
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	size, records := int64(len(data)), bytes.Count(data, []byte("\n"))
	data = nil // see below
	// The figures compare like with like: both ways give the same IR.
	checkSameIR(b, path)
	b.Run("hubble-protojson", func(b *testing.B) {
		// The baseline decodes from memory: its file is read once,
		// untimed. (It is not kept for the other runs: a large live heap
		// would change how often their garbage is collected.)
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(size)
		b.ResetTimer()
		for b.Loop() {
			sc := bufio.NewScanner(bytes.NewReader(data))
			sc.Buffer(make([]byte, 1<<20), 64<<20)
			for sc.Scan() {
				var r observer.GetFlowsResponse
				if err := protojson.Unmarshal(sc.Bytes(), &r); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(records*b.N)/b.Elapsed().Seconds(), "flows/s")
	})
	for _, c := range []struct {
		name string
		slow bool
	}{{"ppc-learn-protojson", true}, {"ppc-learn", false}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				learnGraph(b, []string{path}, c.slow)
			}
			b.ReportMetric(float64(records*b.N)/b.Elapsed().Seconds(), "flows/s")
		})
	}
}
