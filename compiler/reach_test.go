package compiler_test

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/compiler/verify"
	"github.com/policypilot/ppc/ir"
)

// TestReachAgreesWithTrace: every pair reach lists, and every service
// world reaches with --exposure, is exactly what tracing the same
// endpoints and port answers (the same engine path as replay), and every
// observed connection replay allows between workloads is among them.
func TestReachAgreesWithTrace(t *testing.T) {
	f := filepath.Join("..", "testdata", "flows", "hubble-otel-basic-sample-400-tcp-flows.json")
	res := compile(t, []string{f}, compiler.Options{NoProbe: true})
	var results []verify.Result
	for _, d := range res.Docs {
		results = append(results, verify.Result{Object: d.Object()})
	}
	rr, err := compiler.Reach(res.Graph, results, res.Agent, compiler.ReachOptions{Exposure: true})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*ir.Node{}
	names := res.Graph.DisplayNames()
	services := map[string][]compiler.Service{}
	for id, n := range res.Graph.Nodes {
		byName[names[id]] = n
	}
	for _, e := range res.Graph.Edges {
		if res.Graph.Nodes[e.Dst].Kind == ir.KindWorkload {
			services[names[e.Dst]] = append(services[names[e.Dst]], compiler.Service{Protocol: e.Protocol, Port: e.Port})
		}
	}
	listed := map[[3]string]bool{}
	for _, p := range append(append([]compiler.ReachPair(nil), rr.World...), rr.Pairs...) {
		for _, s := range p.Allowed {
			listed[[3]string{p.Src, p.Dst, s.String()}] = true
		}
	}
	world, _ := compiler.ParseEndpoint("world", nil)
	checked := 0
	for _, src := range append([]string{"world"}, rr.Workloads...) {
		for _, dst := range rr.Workloads {
			if src == dst {
				continue
			}
			from := byName[src]
			if src == "world" {
				from = world
			}
			for _, s := range services[dst] {
				tr, err := compiler.Trace(results, res.Agent, from, byName[dst], s.Protocol, s.Port)
				if err != nil {
					t.Fatal(err)
				}
				if tr.Verdict.Allowed() != listed[[3]string{src, dst, s.String()}] {
					t.Errorf("%s -> %s %s: trace allowed %v, reach lists it %v", src, dst, s, tr.Verdict.Allowed(), !tr.Verdict.Allowed())
				}
				checked++
			}
		}
	}
	for _, x := range res.Replay.Results {
		src, dst := res.Graph.Nodes[x.Edge.Src], res.Graph.Nodes[x.Edge.Dst]
		if x.Verdict.Allowed() && src.Kind == ir.KindWorkload && dst.Kind == ir.KindWorkload &&
			!listed[[3]string{names[src.ID], names[dst.ID], compiler.Service{Protocol: x.Edge.Protocol, Port: x.Edge.Port}.String()}] {
			t.Errorf("replay allows %s, reach does not list it", x.Edge.ID)
		}
	}
	if checked == 0 || len(rr.Pairs) == 0 {
		t.Fatalf("checked %d, pairs %d", checked, len(rr.Pairs))
	}
}

// TestSelectorGraph: without flows, the workloads are the pods policies
// select by labels, serving the ports their ingress names.
func TestSelectorGraph(t *testing.T) {
	objs, ds := manifest.Parse("p.yaml", []byte(`apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress: [{fromEndpoints: [{matchLabels: {app: web}}], toPorts: [{ports: [{port: "8080", protocol: TCP}, {port: "53"}, {port: http}]}]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  endpointSelector: {matchLabels: {k8s:app: web}}
  egress: [{toEndpoints: [{matchLabels: {app: api}}]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: all, namespace: shop}
spec:
  endpointSelector: {matchExpressions: [{key: app, operator: Exists}]}
  ingress: [{}]
`))
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	var results []verify.Result
	for _, o := range objs {
		results = append(results, verify.Result{Object: o})
	}
	g, err := compiler.SelectorGraph(results)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 2 || g.Nodes["wl:shop/app=api"] == nil || g.Nodes["wl:shop/app=web"] == nil {
		t.Fatalf("nodes %v", g.Nodes)
	}
	var services []string
	for _, e := range g.Edges {
		services = append(services, fmt.Sprintf("%s/%d", e.Protocol, e.Port))
	}
	sort.Strings(services)
	if strings.Join(services, " ") != "TCP/53 TCP/8080 UDP/53" {
		t.Errorf("services %v", services)
	}
	rr, err := compiler.Reach(g, results, agent.Defaults(), compiler.ReachOptions{FromSelectors: true})
	if err != nil {
		t.Fatal(err)
	}
	if rr.Method != "selectors" || len(rr.Pairs) != 1 || rr.Pairs[0].Src != "shop/app=web" || rr.Pairs[0].Observed {
		t.Errorf("reach %+v", rr)
	}
}
