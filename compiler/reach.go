package compiler

import (
	"fmt"
	"sort"

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
	out := &ReachResult{Workloads: []string{}, Pairs: []ReachPair{}, Exposure: opts.Exposure}
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
		return nil, &InputError{Err: fmt.Errorf("--focus %q: no such workload in the flows", opts.Focus)}
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
