package rules

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/policypilot/ppc/internal/memlimit"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/ir/irtest"
)

// scaleGraph builds a deterministic IR with about edges connections: 10
// workloads per namespace, each reaching peers in its own and the next
// namespaces on a few ports, plus DNS and world egress.
func scaleGraph(edges int) *ir.Graph {
	workloads := edges / 10
	if workloads < 20 {
		workloads = 20
	}
	var items []irtest.Item
	name := func(i int) (string, string) {
		return fmt.Sprintf("ns-%03d", i/10), fmt.Sprintf("app-%d", i)
	}
	items = append(items, irtest.Workload("kube-system", "kube-dns", "k8s-app=kube-dns"))
	for i := 0; i < workloads; i++ {
		ns, n := name(i)
		items = append(items, irtest.Workload(ns, n, "app="+n))
	}
	count := 0
	for i := 0; count < edges; i++ {
		w := i % workloads
		ns, n := name(w)
		src := ns + "/" + n
		switch k := i / workloads; {
		case k == 0:
			items = append(items, irtest.Edge(src, "kube-system/kube-dns", "UDP/53"))
		case k == 1:
			items = append(items, irtest.Edge(src, "entity:world", "TCP/443"))
		default:
			pns, pn := name((w + k*7) % workloads)
			items = append(items, irtest.Edge(src, pns+"/"+pn, "TCP/"+strconv.Itoa(8000+k%5)))
		}
		count++
	}
	return irtest.Graph(items...)
}

// BenchmarkDecide measures the default pack's evaluation on IRs of 1k,
// 10k, 50k and 200k edges; ns/op over edges shows whether any stage is
// quadratic (it must grow linearly). The collector is paced by GOGC=100,
// in proportion to the live heap, so that the figures show how the pack's
// cost grows; "paced/50000" is the 50k graph with the collector paced as
// in ppc's process (cmd/ppc starts memlimit): what a compile of that size
// sees.
func BenchmarkDecide(b *testing.B) {
	for _, c := range []struct {
		edges int
		paced bool
	}{{1_000, false}, {10_000, false}, {50_000, false}, {200_000, false}, {50_000, true}} {
		name := strconv.Itoa(c.edges)
		if c.paced {
			name = "paced/" + name
		}
		b.Run(name, func(b *testing.B) {
			g := scaleGraph(c.edges)
			if c.paced {
				defer memlimit.Start(memlimit.Floor, memlimit.Ceiling)()
			}
			d := decideLoop(b, g, nil)
			b.ReportMetric(float64(len(g.Edges)), "edges")
			b.ReportMetric(float64(len(d.Policies)), "policies")
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/float64(len(g.Edges))*1e6, "µs/edge")
		})
	}
}

// fanInGraph is the many-clients-of-one-service shape: n client
// workloads (and n/10 world addresses) reach one server on one port.
func fanInGraph(n int) *ir.Graph {
	items := []irtest.Item{irtest.Workload("shop", "api", "app=api")}
	for i := 0; i < n; i++ {
		ns, name := fmt.Sprintf("ns-%03d", i/100), fmt.Sprintf("client-%d", i)
		items = append(items, irtest.Workload(ns, name, "app="+name), irtest.Edge(ns+"/"+name, "shop/api", "TCP/8080"))
		if i%10 == 0 {
			items = append(items, irtest.Edge(fmt.Sprintf("cidr:198.51.%d.%d/32", i/2560, i/10%256), "shop/api", "TCP/8443"))
		}
	}
	return irtest.Graph(items...)
}

// BenchmarkDecideFanIn: decide must stay flat per edge when one service
// has thousands of clients, with HTTP rules from their observed requests
// too (l7.http observed: the tables of HTTP ports were partial sets
// regrouped per edge, 3.5 / 13.9 / 57.6 s for 1,000 / 2,000 / 4,000
// clients).
func BenchmarkDecideFanIn(b *testing.B) {
	for _, c := range []struct {
		name string
		set  []string
	}{{"", nil}, {"http/", []string{"l7.http=observed"}}} {
		for _, n := range []int{1_000, 4_000, 16_000} {
			b.Run(c.name+strconv.Itoa(n), func(b *testing.B) {
				g := fanInGraph(n)
				if c.set != nil {
					for _, e := range g.Edges {
						if e.Port == 8080 {
							e.L7 = &ir.L7{HTTP: []ir.HTTPFact{{Method: "GET", Path: "/v1/items/" + strconv.Itoa(len(e.ID)%7)}}}
						}
					}
				}
				benchFanIn(b, g, c.set)
			})
		}
	}
}

// benchFanIn measures decide on g with the settings set.
func benchFanIn(b *testing.B, g *ir.Graph, set []string) {
	d := decideLoop(b, g, set)
	var http int
	for _, p := range d.Policies {
		for _, r := range p.Ingress {
			if strings.Contains(string(r), `"http"`) {
				http++
			}
		}
	}
	if set != nil && http == 0 {
		b.Fatal("no HTTP rule written")
	}
	b.ReportMetric(float64(len(g.Edges)), "edges")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/float64(len(g.Edges))*1e6, "µs/edge")
}

// maskedGraph is a field-masked export's shape: n workloads whose labels
// were masked out (none can be selected: every one is warned about), each
// reaching a few others.
func maskedGraph(n int) *ir.Graph {
	g := ir.New()
	ids := make([]string, n)
	for i := range ids {
		ns, name := fmt.Sprintf("ns-%03d", i/100), fmt.Sprintf("w-%d", i)
		ids[i] = g.AddNode(&ir.Node{ID: ir.WorkloadID(ns, name, nil), Kind: ir.KindWorkload, Namespace: ns, Name: name}).ID
	}
	for i := 0; i < 5*n; i++ {
		src, dst := ids[i%n], ids[(i*7+3)%n]
		if src != dst {
			g.Observe(ir.Observation{Src: src, Dst: dst, Protocol: "TCP", Port: uint16(8000 + i%5), Verdict: "FORWARDED", Direction: ir.ByTCPFlags})
		}
	}
	return g
}

// BenchmarkDecideMasked: decide must stay flat per workload when no
// workload can be selected (each unselectable workload's warning used to
// scan every edge: 0.5 / 1.9 / 7.8 s for 500 / 1,000 / 2,000 workloads).
func BenchmarkDecideMasked(b *testing.B) {
	for _, n := range []int{1_000, 4_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			g := maskedGraph(n)
			if d := decideLoop(b, g, nil); len(d.Warnings) < n {
				b.Fatalf("%d warnings for %d unselectable workloads", len(d.Warnings), n)
			}
			b.ReportMetric(float64(len(g.Edges)), "edges")
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/float64(n)*1e6, "µs/workload")
		})
	}
}

// decideLoop decides g with the settings set for every iteration of b
// and returns the last decisions.
func decideLoop(b *testing.B, g *ir.Graph, set []string) *Decisions {
	eng, err := NewEngine(context.Background(), Options{Timeout: DefaultTimeout * 10, Set: set})
	if err != nil {
		b.Fatal(err)
	}
	var d *Decisions
	for b.Loop() {
		if d, err = eng.Decide(context.Background(), g); err != nil {
			b.Fatal(err)
		}
	}
	return d
}
