package compiler

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/compiler/verify"
	"github.com/policypilot/ppc/ir"
)

// ReachOptions select what ppc reach answers.
type ReachOptions struct {
	// Focus, when set, keeps the pairs with this workload ("namespace/name"
	// as the flows name it) at either end.
	Focus string
	// FromSelectors: g is a SelectorGraph, not flows.
	FromSelectors bool
	// Exposure adds what world reaches (and the report lists what other
	// namespaces reach).
	Exposure bool
}

// Service is one port a workload was seen serving.
type Service struct {
	Protocol string `json:"protocol"`
	Port     uint16 `json:"port"`
}

// String is "TCP/8080".
func (s Service) String() string { return fmt.Sprintf("%s/%d", s.Protocol, s.Port) }

// ReachPair is what one workload may reach of another's services.
type ReachPair struct {
	Src     string    `json:"src"`
	Dst     string    `json:"dst"`
	Allowed []Service `json:"allowed"`
	// Observed: the flows show src reaching dst.
	Observed bool `json:"observed"`
	// CrossNamespace: src and dst are in different namespaces.
	CrossNamespace bool `json:"crossNamespace,omitempty"`
}

// ReachResult is the reachability of the workloads of the flows under a
// policy set, on the ports each was seen serving.
type ReachResult struct {
	Workloads []string    `json:"workloads"`
	Pairs     []ReachPair `json:"pairs"`
	// World lists, with Exposure, the services world reaches.
	World []ReachPair `json:"world,omitempty"`
	// Loaded and Invalid count the policies loaded and left out.
	Loaded  int `json:"policiesLoaded"`
	Invalid int `json:"policiesInvalid"`
	// Exposure: World was computed, and reports list what other
	// namespaces reach.
	Exposure bool `json:"exposure"`
	// Method is where the workloads and their ports came from: "flows",
	// or "selectors" (SelectorGraph: nothing was observed).
	Method string `json:"method"`
}

// Reach decides, with Cilium's engine loaded with the valid policies of
// results exactly as replay loads them, which workload of g may reach which
// other on the ports the flows show it serving (every pair, observed or
// not), and with Exposure which of those ports world reaches. A pair
// allowed on no port is left out.
func Reach(g *ir.Graph, results []verify.Result, settings agent.Settings, opts ReachOptions) (*ReachResult, error) {
	eng, err := replay.New(settings)
	if err != nil {
		return nil, err
	}
	out := &ReachResult{Workloads: []string{}, Pairs: []ReachPair{}, Exposure: opts.Exposure, Method: "flows"}
	if opts.FromSelectors {
		out.Method = "selectors"
	}
	var pols []replay.Policy
	for _, r := range results {
		if !r.Valid() {
			out.Invalid++
			continue
		}
		p, err := replay.Decode(r.Object.Kind, r.Object.JSON)
		if err != nil {
			return nil, &InputError{Err: fmt.Errorf("%s: %w", r.Object.Where(), err)}
		}
		pols = append(pols, p)
	}
	out.Loaded = len(pols)
	if err := eng.Load(pols); err != nil {
		return nil, err
	}
	world := &ir.Node{ID: ir.EntityID([]string{"world"}), Kind: ir.KindEntity, Entities: []string{"world"}}
	h := ir.New() // the identities: g's endpoints and world
	for id, n := range g.Nodes {
		h.Nodes[id] = n
	}
	if w, ok := g.Nodes[world.ID]; ok {
		world = w
	} else {
		h.Nodes[world.ID] = world
	}
	if err := eng.AddGraph(h); err != nil {
		return nil, err
	}
	names := g.DisplayNames()
	services := map[string]map[Service]bool{}
	observed := map[[2]string]bool{}
	var ws []*ir.Node
	for _, e := range g.Edges {
		if n := g.Nodes[e.Dst]; n != nil && n.Kind == ir.KindWorkload {
			if services[e.Dst] == nil {
				services[e.Dst] = map[Service]bool{}
			}
			services[e.Dst][Service{e.Protocol, e.Port}] = true
		}
		observed[[2]string{e.Src, e.Dst}] = true
	}
	for _, n := range g.SortedNodes() {
		if n.Kind == ir.KindWorkload {
			ws = append(ws, n)
			out.Workloads = append(out.Workloads, names[n.ID])
		}
	}
	if opts.Focus != "" && !contains(out.Workloads, opts.Focus) {
		return nil, &InputError{Err: fmt.Errorf("focus on %q: no such workload in the flows", opts.Focus)}
	}
	allowed := func(src, dst *ir.Node) ([]Service, error) {
		var ss []Service
		for s := range services[dst.ID] {
			v, err := eng.Check(src, dst, s.Protocol, s.Port)
			if err != nil {
				return nil, err
			}
			if v.Allowed() {
				ss = append(ss, s)
			}
		}
		sort.Slice(ss, func(i, j int) bool { return ss[i].String() < ss[j].String() })
		return ss, nil
	}
	for _, dst := range ws {
		if len(services[dst.ID]) == 0 {
			continue
		}
		for _, src := range ws {
			if src == dst || opts.Focus != "" && names[src.ID] != opts.Focus && names[dst.ID] != opts.Focus {
				continue
			}
			ss, err := allowed(src, dst)
			if err != nil {
				return nil, err
			}
			if len(ss) > 0 {
				out.Pairs = append(out.Pairs, ReachPair{Src: names[src.ID], Dst: names[dst.ID], Allowed: ss, Observed: observed[[2]string{src.ID, dst.ID}],
					CrossNamespace: src.Namespace != dst.Namespace || src.Cluster() != dst.Cluster()})
			}
		}
		if opts.Exposure && (opts.Focus == "" || names[dst.ID] == opts.Focus) {
			ss, err := allowed(world, dst)
			if err != nil {
				return nil, err
			}
			if len(ss) > 0 {
				out.World = append(out.World, ReachPair{Src: "world", Dst: names[dst.ID], Allowed: ss, Observed: observed[[2]string{world.ID, dst.ID}]})
			}
		}
	}
	sort.Slice(out.Pairs, func(i, j int) bool {
		if out.Pairs[i].Src != out.Pairs[j].Src {
			return out.Pairs[i].Src < out.Pairs[j].Src
		}
		return out.Pairs[i].Dst < out.Pairs[j].Dst
	})
	sort.Slice(out.World, func(i, j int) bool { return out.World[i].Dst < out.World[j].Dst })
	return out, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// SelectorGraph is the graph ppc reach uses without flows: a workload for
// each pod subject of results' valid policies (a spec's endpointSelector
// matchLabels, in its namespace; a selector with matchExpressions, or an
// empty one, names no workload), serving the numeric ports its ingress
// rules name. The edges are those services, each from the workload
// itself: they say what the workload serves, not that anything connected.
func SelectorGraph(results []verify.Result) (*ir.Graph, error) {
	g := ir.New()
	for _, r := range results {
		if !r.Valid() || r.Object.Kind != "CiliumNetworkPolicy" && r.Object.Kind != "CiliumClusterwideNetworkPolicy" {
			continue
		}
		var doc struct {
			Spec  *selSpec  `json:"spec"`
			Specs []selSpec `json:"specs"`
		}
		if err := json.Unmarshal(r.Object.JSON, &doc); err != nil {
			return nil, &InputError{Err: fmt.Errorf("%s: %w", r.Object.Where(), err)}
		}
		specs := doc.Specs
		if doc.Spec != nil {
			specs = append([]selSpec{*doc.Spec}, specs...)
		}
		for _, sp := range specs {
			sel := sp.EndpointSelector
			if sel == nil || len(sel.MatchLabels) == 0 || len(sel.MatchExpressions) > 0 {
				continue
			}
			ns := r.Object.Namespace
			labels := []string{}
			var keys []string
			for k, v := range sel.MatchLabels {
				k = strings.TrimPrefix(strings.TrimPrefix(k, "k8s:"), "any:")
				if k == "io.kubernetes.pod.namespace" {
					ns = v
					continue
				}
				labels = append(labels, "k8s:"+k+"="+v)
				keys = append(keys, k+"="+v)
			}
			if ns == "" {
				continue // a clusterwide subject in every namespace: no one workload
			}
			labels = append(labels, "k8s:io.kubernetes.pod.namespace="+ns)
			sort.Strings(labels)
			sort.Strings(keys)
			id := "wl:" + ns + "/" + strings.Join(keys, ",")
			g.Nodes[id] = &ir.Node{ID: id, Kind: ir.KindWorkload, Namespace: ns, Name: strings.Join(keys, ","), Labels: labels}
			for _, rule := range sp.Ingress {
				for _, pr := range rule.ToPorts {
					for _, p := range pr.Ports {
						n, err := strconv.ParseUint(p.Port, 10, 16)
						if err != nil || n == 0 {
							continue
						}
						protos := []string{"TCP", "UDP"}
						if p.Protocol != "" && !strings.EqualFold(p.Protocol, "ANY") {
							protos = []string{strings.ToUpper(p.Protocol)}
						}
						for _, proto := range protos {
							e := &ir.Edge{ID: fmt.Sprintf("%s -> %s %s/%d", id, id, proto, n), Src: id, Dst: id, Protocol: proto, Port: uint16(n)}
							g.Edges[e.ID] = e
						}
					}
				}
			}
		}
	}
	return g, nil
}

type selSpec struct {
	EndpointSelector *struct {
		MatchLabels      map[string]string `json:"matchLabels"`
		MatchExpressions []any             `json:"matchExpressions"`
	} `json:"endpointSelector"`
	Ingress []struct {
		ToPorts []struct {
			Ports []struct {
				Port     string `json:"port"`
				Protocol string `json:"protocol"`
			} `json:"ports"`
		} `json:"toPorts"`
	} `json:"ingress"`
}
