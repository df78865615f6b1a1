// Command flowgen writes synthetic Hubble flows (see package flowgen):
//
//	go run ./internal/flowgen/cmd/flowgen -flows 1000000 -seed 1 > flows.ndjson
//	go run ./internal/flowgen/cmd/flowgen -scenario probe -conns 3000 > shop.json
//
// -scenario writes a ground-truth capture of a shop the way Hubble records
// each connection (plain: normal traffic and an attacker whose attempts
// are dropped; probe: also a pod probing services it never talks to).
package main

import (
	"bufio"
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
	flag.IntVar(&cfg.Peers, "peers", 4, "the most in-cluster peers a workload calls (more: more connections per workload)")
	flag.BoolVar(&cfg.Verbose, "verbose", false, "flows the size real agents send (1.5–2 KB), with the fields ppc does not read")
	scenario := flag.String("scenario", "", "write a ground-truth scenario instead: plain or probe")
	conns := flag.Int("conns", 3000, "with -scenario: connections")
	flag.Parse()
	var err error
	switch *scenario {
	case "":
		err = flowgen.Write(os.Stdout, cfg)
	case "plain", "probe":
		gen := flowgen.Scenario
		if *scenario == "probe" {
			gen = flowgen.ProbeScenario
		}
		w := bufio.NewWriter(os.Stdout)
		if _, err = gen(w, *conns, cfg.Seed); err == nil {
			err = w.Flush()
		}
	default:
		err = fmt.Errorf("-scenario %q: want plain or probe", *scenario)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "flowgen:", err)
		os.Exit(1)
	}
}
