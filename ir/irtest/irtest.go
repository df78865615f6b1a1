// Package irtest is a small DSL for building IR graphs in tests:
//
//	g := irtest.Graph(
//		irtest.Workload("shop", "api", "app=api"),
//		irtest.Workload("shop", "web", "app=web"),
//		irtest.Edge("shop/web", "shop/api", "TCP/8080"),
//	)
//
// Workloads are named "namespace/name" in Edge; entities "entity:host",
// CIDRs "cidr:203.0.113.7/32", FQDNs "fqdn:api.example.com".
package irtest

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/policypilot/ppc/ir"
)

// Item adds something to a graph under construction.
type Item func(b *builder)

type builder struct {
	g     *ir.Graph
	names map[string]string // "ns/name" -> node ID
}

// Graph builds a graph from items and panics if it breaks an invariant.
func Graph(items ...Item) *ir.Graph {
	b := &builder{g: ir.New(), names: map[string]string{}}
	for _, it := range items {
		it(b)
	}
	if ds := ir.Verify(b.g); len(ds) > 0 {
		panic(fmt.Sprintf("irtest: invalid graph: %v", ds))
	}
	return b.g
}

// Workload adds a workload with k8s labels given as "key=value"; the
// namespace label is added.
func Workload(ns, name string, labels ...string) Item {
	return func(b *builder) {
		ls := []string{"k8s:io.kubernetes.pod.namespace=" + ns}
		for _, l := range labels {
			ls = append(ls, "k8s:"+l)
		}
		sort.Strings(ls)
		n := &ir.Node{ID: ir.WorkloadID(ns, name, ls), Kind: ir.KindWorkload, Namespace: ns, Name: name, Labels: ls}
		b.g.AddNode(n)
		b.names[ns+"/"+name] = n.ID
	}
}

func (b *builder) node(ref string) string {
	switch {
	case strings.HasPrefix(ref, "entity:"):
		es := strings.Split(strings.TrimPrefix(ref, "entity:"), "+")
		sort.Strings(es)
		return b.g.AddNode(&ir.Node{ID: ir.EntityID(es), Kind: ir.KindEntity, Entities: es}).ID
	case strings.HasPrefix(ref, "cidr:"):
		c := strings.TrimPrefix(ref, "cidr:")
		return b.g.AddNode(&ir.Node{ID: ir.CIDRID(c), Kind: ir.KindCIDR, CIDR: c}).ID
	case strings.HasPrefix(ref, "fqdn:"):
		f := strings.TrimPrefix(ref, "fqdn:")
		return b.g.AddNode(&ir.Node{ID: ir.FQDNID(f), Kind: ir.KindFQDN, FQDN: f}).ID
	}
	id, ok := b.names[ref]
	if !ok {
		panic("irtest: unknown workload " + ref)
	}
	return id
}

// Edge adds one observation of src reaching dst on "PROTO/port".
func Edge(src, dst, protoPort string) Item {
	return EdgeN(src, dst, protoPort, 1)
}

// EdgeN adds n FORWARDED observations.
func EdgeN(src, dst, protoPort string, n int) Item {
	return func(b *builder) {
		proto, port, ok := strings.Cut(protoPort, "/")
		if !ok {
			panic("irtest: want PROTO/port, got " + protoPort)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			panic(err)
		}
		s, d := b.node(src), b.node(dst)
		for i := 0; i < n; i++ {
			b.g.Observe(ir.Observation{Src: s, Dst: d, Protocol: proto, Port: uint16(p), Verdict: "FORWARDED",
				Time: time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC), Pos: ir.Pos{File: "t.json", Line: i + 1}})
		}
	}
}

// IDs maps the name of every workload of g (learned or denied-only) to
// its node ID: tests name the workloads they built with Workload.
func IDs(g *ir.Graph) map[string]string {
	out := map[string]string{}
	for _, m := range []map[string]*ir.Node{g.Nodes, g.DeniedNodes} {
		for id, n := range m {
			if n.Kind == ir.KindWorkload {
				out[n.Name] = id
			}
		}
	}
	return out
}
