// Command flowgen writes synthetic Hubble flows (see package flowgen):
//
//	go run ./internal/flowgen/cmd/flowgen -flows 1000000 -seed 1 > flows.ndjson
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/policypilot/ppc/internal/flowgen"
)

func main() {
	var cfg flowgen.Config
	flag.IntVar(&cfg.Flows, "flows", 100000, "number of flows")
	flag.IntVar(&cfg.Namespaces, "namespaces", 50, "namespaces")
	flag.IntVar(&cfg.Workloads, "workloads", 500, "workloads")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "random seed")
	flag.BoolVar(&cfg.Verbose, "verbose", false, "flows the size real agents send (1.5–2 KB), with the fields ppc does not read")
	flag.Parse()
	if err := flowgen.Write(os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "flowgen:", err)
		os.Exit(1)
	}
}
