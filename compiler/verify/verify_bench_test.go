package verify

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/internal/memlimit"
)

// policy20 is a CiliumNetworkPolicy of 20 rules (10 ingress, 10 egress:
// endpoints, entities, CIDR and FQDN peers, three endpoint peers a rule),
// the size the target names. Its labels carry tag, so policies of
// different tags share no rule or selector.
func policy20(tag int) []byte {
	var in, eg []string
	for i := 0; i < 10; i++ {
		sel := func(k int) string {
			return fmt.Sprintf(`{"matchLabels":{"app":"svc-%d-%d-%d","k8s:io.kubernetes.pod.namespace":"ns-%d"}}`, tag, i, k, k)
		}
		ports := fmt.Sprintf(`"toPorts":[{"ports":[{"port":"%d","protocol":"TCP"},{"port":"%d","protocol":"UDP"}]}]`, 8000+i, 9000+tag%1000)
		switch i % 4 {
		case 0, 1:
			in = append(in, fmt.Sprintf(`{"fromEndpoints":[%s,%s,%s],%s}`, sel(0), sel(1), sel(2), ports))
			eg = append(eg, fmt.Sprintf(`{"toEndpoints":[%s,%s,%s],%s}`, sel(3), sel(4), sel(5), ports))
		case 2:
			in = append(in, fmt.Sprintf(`{"fromCIDR":["203.0.%d.%d/32"],%s}`, tag%256, i, ports))
			eg = append(eg, fmt.Sprintf(`{"toFQDNs":[{"matchName":"api-%d-%d.example.com"}],%s}`, tag, i, ports))
		default:
			in = append(in, fmt.Sprintf(`{"fromEntities":["host"],%s}`, ports))
			eg = append(eg, fmt.Sprintf(`{"toCIDR":["198.51.%d.%d/32"],%s}`, tag%256, i, ports))
		}
	}
	return []byte(fmt.Sprintf(`{"apiVersion":"cilium.io/v2","kind":"CiliumNetworkPolicy",
"metadata":{"name":"svc-%d","namespace":"ns-1","labels":{"app.kubernetes.io/managed-by":"ppc"}},
"spec":{"endpointSelector":{"matchLabels":{"app":"svc-%d"}},"ingress":[%s],"egress":[%s]}}`,
		tag, tag, strings.Join(in, ","), strings.Join(eg, ",")))
}

// distinctTags numbers the "distinct" policies across every run.
var distinctTags atomic.Int64

// BenchmarkVerify checks 20-rule policies with every layer (CRD schema,
// agent parser, ppc's CUE schema), one at a time: "distinct" gives every
// policy rules and peers of its own (nothing recurs), "recurring" checks
// the same policy again (as a compile's policies share their peers),
// "distinct-paced" is "distinct" with the collector paced as ppc paces it
// (a distinct policy allocates ~1.3 MB; with GOGC=100 and the small heap
// of a benchmark, collecting it is nearly half of the time).
// ms/policy is the figure of the target (≤ 5 ms).
func BenchmarkVerify(b *testing.B) {
	v, err := New(Options{Agent: agent.Defaults(), PPC: true})
	if err != nil {
		b.Fatal(err)
	}
	if ds := v.Verify(context.Background(), Object{JSON: policy20(0)}); len(ds) > 0 {
		b.Fatalf("the benchmark's policy is invalid: %v", ds)
	}
	for _, shape := range []string{"distinct", "recurring", "distinct-paced"} {
		b.Run(shape, func(b *testing.B) {
			if shape == "distinct-paced" {
				// The collector paced as in ppc's process (cmd/ppc
				// starts memlimit) rather than by GOGC alone.
				defer memlimit.Start(memlimit.Floor, memlimit.Ceiling)()
			}
			for b.Loop() {
				tag := 1
				if shape != "recurring" {
					// Never a tag seen before, in this run or an earlier
					// one of -count: a run numbering from 1 again met
					// the memo warm and measured "recurring".
					tag = 1_000_000 + int(distinctTags.Add(1))
				}
				if ds := v.Verify(context.Background(), Object{JSON: policy20(tag)}); len(ds) > 0 {
					b.Fatal(ds)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/policy")
		})
	}
}
