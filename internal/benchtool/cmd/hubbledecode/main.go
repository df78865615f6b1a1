// Command hubbledecode is the baseline of ppc's scale benchmarks: it
// decodes an NDJSON file of Hubble flows the way `hubble observe
// --input-file` does — protojson.Unmarshal of each line into an
// observer.GetFlowsResponse — and prints the records and the time taken.
// `make bench-scale` runs it beside `ppc compile` on the same file.
package main

import (
	"bufio"
	"fmt"
	"os"
	"time"

	"github.com/cilium/cilium/api/v1/observer"
	"google.golang.org/protobuf/encoding/protojson"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: hubbledecode FILE")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	start := time.Now()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	n := 0
	for sc.Scan() {
		var r observer.GetFlowsResponse
		if err := protojson.Unmarshal(sc.Bytes(), &r); err != nil {
			fmt.Fprintf(os.Stderr, "%s:%d: %v\n", os.Args[1], n+1, err)
			os.Exit(1)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	d := time.Since(start)
	fmt.Printf("protojson   %.3fs  (%d records, %.0f records/s)\n", d.Seconds(), n, float64(n)/d.Seconds())
}
