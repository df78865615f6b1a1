package rules

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sort"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/policypilot/ppc/internal/parallel"
	"github.com/policypilot/ppc/ir"
)

// This file evaluates the decision query per shard of namespaces when the
// packs allow it (rules/README.md, "Sharded evaluation"). OPA keeps every
// document a query computed until the query ends, so one evaluation over
// a large graph holds hundreds of MB and runs on one core; shards of a few
// thousand edges run on every core and each holds a fraction of that.
//
// A shard owns a run of namespaces. Its input holds their workloads, the
// edges with a workload of theirs at an end (an edge between two shards
// is in both), the nodes those edges name, and input.shard: namespaces,
// the namespaces it owns, and context, what the packs need to know of the
// nodes the shard does not see and the tables of every node
// (data.ppc.synth.shard_context, computed once over all nodes). The pack
// writes the policies of the owned namespaces only, and the warnings about
// them. The merge unions the shards' policies, exclusions and warnings,
// and checks what the packs promised: every policy is of the shard's namespaces and
// none clusterwide, no warning names another shard's policy, an edge two
// shards hold is excluded by both for the same reason or by neither, no
// shard has a gate finding. When a promise does not hold, the whole graph
// is evaluated at once instead.

// DefaultShardEdges is how many edge ends a shard of the decision holds
// (an edge between two shards counts in both): small enough that the
// documents OPA keeps stay small and both cores stay busy, large enough
// that what every shard repeats (its peers' nodes, the exclusion of an
// edge it shares with another shard) stays a small share. 2,048 to 4,096
// measured the same on the dense capture; 8,192 and more were slower.
const DefaultShardEdges = 4096

// shardableQuery asks whether the packs allow sharding for these settings
// and nodes, and what each part of the shard context must know of all
// nodes (it is evaluated over the nodes alone).
const shardableQuery = `shardable := count([1 | data.ppc.synth.shardable == true])
globals := [g | g := data.ppc.synth.shard_globals]`

// contextQuery is what every shard must know of the nodes it does not see,
// for the nodes of its input (a part of them, with input.chunk.globals).
const contextQuery = `context := [c | c := data.ppc.synth.shard_context]`

// contextNodes is about how many nodes a part of the shard context holds
// at least (Options.ContextNodes): fewer parts than cores when the graph is
// small.
const contextNodes = 1024

// shard is one part of a sharded decision.
type shard struct {
	owns  map[string]bool // the namespaces whose policies it decides
	edges []string        // in no particular order
}

// planShards splits g's namespaces into contiguous runs (in name order)
// of about per edge ends each. It returns nil when one shard would do.
func planShards(g *ir.Graph, per int) []*shard {
	if per <= 0 {
		return nil
	}
	weight := map[string]int{} // every namespace with a workload, edges or not
	for _, n := range g.Nodes {
		if n.Kind == ir.KindWorkload {
			weight[n.Namespace] = 0
		}
	}
	// Each edge's ends' namespaces, looked up once for both passes.
	type ends struct {
		id   string
		a, b namespaceOf
	}
	all := make([]ends, 0, len(g.Edges))
	total := 0
	for id, e := range g.Edges {
		a, b := workloadNamespace(g, e.Src), workloadNamespace(g, e.Dst)
		all = append(all, ends{id, a, b})
		for _, ns := range []namespaceOf{a, b} {
			if ns.ok {
				weight[ns.name]++
				total++
			}
		}
		if a.ok && b.ok && a.name == b.name {
			weight[a.name]--
			total--
		}
	}
	k := min((total+per-1)/per, len(weight))
	if k < 2 {
		return nil
	}
	names := make([]string, 0, len(weight))
	for ns := range weight {
		names = append(names, ns)
	}
	sort.Strings(names)
	shards := make([]*shard, 0, k)
	cur := &shard{owns: map[string]bool{}}
	acc := 0
	for i, ns := range names {
		cur.owns[ns] = true
		acc += weight[ns]
		// Cut once this run reaches its share of the total, keeping at
		// least one namespace for each shard still to come.
		left := len(names) - i - 1
		if (acc*k >= total*(len(shards)+1) || left == k-len(shards)-1) && len(shards) < k-1 && left > 0 {
			shards = append(shards, cur)
			cur = &shard{owns: map[string]bool{}}
		}
	}
	shards = append(shards, cur)
	owner := map[string]int{}
	for i, s := range shards {
		for ns := range s.owns {
			owner[ns] = i
		}
	}
	for _, x := range all {
		id, a, b := x.id, x.a, x.b
		switch {
		case a.ok && b.ok && owner[a.name] != owner[b.name]:
			shards[owner[a.name]].edges = append(shards[owner[a.name]].edges, id)
			shards[owner[b.name]].edges = append(shards[owner[b.name]].edges, id)
		case a.ok:
			shards[owner[a.name]].edges = append(shards[owner[a.name]].edges, id)
		case b.ok:
			shards[owner[b.name]].edges = append(shards[owner[b.name]].edges, id)
		default: // no workload at either end (not in a valid IR): still judged
			shards[0].edges = append(shards[0].edges, id)
		}
	}
	return shards
}

type namespaceOf struct {
	name string
	ok   bool // the node is a workload
}

func workloadNamespace(g *ir.Graph, id string) namespaceOf {
	if n := g.Nodes[id]; n != nil && n.Kind == ir.KindWorkload {
		return namespaceOf{n.Namespace, true}
	}
	return namespaceOf{}
}

// sharding is how a graph is decided in shards: the shards, every node's
// input (built once, read by every shard's), the workloads of each
// namespace, and the packs' shard_context as an AST value (converted
// once: every shard's input holds the same value).
type sharding struct {
	shards      []*shard
	nodes       map[string]any
	byNamespace map[string][]string
	context     ast.Value
}

// input is the packs' input for shard s: the workloads of its namespaces,
// its edges, the nodes they name, and input.shard.
func (sh *sharding) input(g *ir.Graph, s *shard) map[string]any {
	nodes := map[string]any{}
	add := func(id string) {
		if n, ok := sh.nodes[id]; ok {
			nodes[id] = n
		}
	}
	var workloads []string
	for ns := range s.owns {
		for _, id := range sh.byNamespace[ns] {
			add(id)
			workloads = append(workloads, id)
		}
	}
	slices.Sort(workloads)
	edges := make(map[string]any, len(s.edges))
	tc := newTermCache(sh.nodes)
	for _, id := range s.edges {
		e := g.Edges[id]
		edges[id] = edgeInput(id, e, tc)
		add(e.Src)
		add(e.Dst)
	}
	in := inputDoc(nodes, edges)
	held := func(yield func(*ir.Edge) bool) {
		for _, id := range s.edges {
			if !yield(g.Edges[id]) {
				return
			}
		}
	}
	in["protocols"] = protocolCounts(held)
	in["ports"] = portCounts(held)
	owns := make(map[string]any, len(s.owns))
	for ns := range s.owns {
		owns[ns] = true
	}
	ws := make([]any, len(workloads))
	for i, id := range workloads {
		ws[i] = id
	}
	shard := map[string]any{"namespaces": owns, "workloads": ws}
	if sh.context != nil {
		shard["context"] = sh.context
	}
	in["shard"] = shard
	return in
}

// shardPlan returns how to decide g in shards, or nil to decide it whole:
// only organisation packs without Rego of their own are sharded (a rule an
// organisation writes may read any edge), and only when the packs say
// shardable for these settings.
func (e *Engine) shardPlan(ctx context.Context, g *ir.Graph) (*sharding, error) {
	if !e.defaultRego || e.shardEdges < 0 {
		return nil, nil
	}
	per := e.shardEdges
	if per == 0 {
		per = DefaultShardEdges
	}
	plan := planShards(g, per)
	if plan == nil {
		return nil, nil
	}
	pq, err := e.prepared(ctx, &e.shardable, shardableQuery)
	if err != nil {
		return nil, err
	}
	sh := &sharding{shards: plan, nodes: make(map[string]any, len(g.Nodes)), byNamespace: map[string][]string{}}
	for id, n := range g.Nodes {
		sh.nodes[id] = nodeInput(id, n)
		if n.Kind == ir.KindWorkload {
			sh.byNamespace[n.Namespace] = append(sh.byNamespace[n.Namespace], id)
		}
	}
	b, err := e.eval(ctx, pq, inputDoc(sh.nodes, map[string]any{}), "data.ppc.synth.shardable", "", rawTerms)
	if err != nil {
		return nil, err
	}
	if n := value(b["shardable"]); n == nil || n.Compare(ast.Number("1")) != 0 {
		return nil, nil
	}
	gs, _ := value(b["globals"]).(*ast.Array)
	if gs == nil || gs.Len() != 1 {
		return nil, nil // no globals: the context cannot be computed in parts
	}
	if sh.context, err = e.shardContext(ctx, sh.nodes, gs.Elem(0).Value); err != nil || sh.context == nil {
		return nil, err
	}
	return sh, nil
}

// shardContext evaluates the packs' shard_context in parts of the nodes,
// on every core, each part's input holding globals as input.chunk.globals,
// and joins the parts (joinContexts). It returns nil when they do not
// join: the graph is then decided whole.
func (e *Engine) shardContext(ctx context.Context, nodes map[string]any, globals ast.Value) (ast.Value, error) {
	pq, err := e.prepared(ctx, &e.context, contextQuery)
	if err != nil {
		return nil, err
	}
	ids := slices.Sorted(maps.Keys(nodes))
	k := max(1, min(2*runtime.GOMAXPROCS(0), len(ids)/e.contextNodes))
	parts := make([]ast.Value, k)
	err = parallel.ForErr(ctx, k, func(ctx context.Context, i int) error {
		part := map[string]any{}
		for _, id := range ids[i*len(ids)/k : (i+1)*len(ids)/k] {
			part[id] = nodes[id]
		}
		in := inputDoc(part, map[string]any{})
		in["chunk"] = map[string]any{"globals": globals}
		b, err := e.eval(ctx, pq, in, "data.ppc.synth.shard_context", "", rawTerms)
		if err != nil {
			if k > 1 {
				err = fmt.Errorf("part %d of %d of the shard context: %w", i+1, k, err)
			}
			return err
		}
		if cs, _ := value(b["context"]).(*ast.Array); cs != nil && cs.Len() == 1 {
			parts[i] = cs.Elem(0).Value
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return joinContexts(parts), nil
}

// joinContexts joins the parts of the shard context: a field that is an
// object in every part is their union (a key two parts hold must have one
// value), any other field must be equal in every part. nil: a part is not
// an object, lacks a field another has, or the parts disagree.
func joinContexts(parts []ast.Value) ast.Value {
	if len(parts) == 1 {
		return parts[0]
	}
	var fields []*ast.Term
	for _, p := range parts {
		o, ok := p.(ast.Object)
		if !ok {
			return nil
		}
		if fields == nil {
			fields = o.Keys()
		} else if o.Len() != len(fields) {
			return nil
		}
	}
	out := ast.NewObject()
	for _, k := range fields {
		vals := make([]*ast.Term, len(parts))
		tables := true
		for i, p := range parts {
			if vals[i] = p.(ast.Object).Get(k); vals[i] == nil {
				return nil
			}
			_, isObj := vals[i].Value.(ast.Object)
			tables = tables && isObj
		}
		if !tables {
			for _, v := range vals[1:] {
				if !v.Equal(vals[0]) {
					return nil
				}
			}
			out.Insert(k, vals[0])
			continue
		}
		u := ast.NewObject()
		agree := true
		for _, v := range vals {
			v.Value.(ast.Object).Foreach(func(x, y *ast.Term) {
				if had := u.Get(x); had == nil {
					u.Insert(x, y)
				} else if !had.Equal(y) {
					agree = false
				}
			})
		}
		if !agree {
			return nil
		}
		out.Insert(k, ast.NewTerm(u))
	}
	return out
}

// decideShards evaluates the decision query on every shard, on every
// core, and merges the parts; ok is false when the parts break what the
// packs promised (then nothing is returned and the graph is decided
// whole).
func (e *Engine) decideShards(ctx context.Context, g *ir.Graph, sh *sharding) (d *Decisions, ok bool, err error) {
	plan := sh.shards
	parts := make([]*Decisions, len(plan))
	err = parallel.ForErr(ctx, len(plan), func(ctx context.Context, i int) (err error) {
		if parts[i], err = e.decideInput(ctx, sh.input(g, plan[i])); err != nil {
			return fmt.Errorf("shard %d of %d: %w", i+1, len(plan), err)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	d, ok = mergeShards(plan, parts)
	if ok {
		d.Shards = len(plan)
	}
	return d, ok, nil
}

// mergeShards joins the shards' decisions (see the top of this file);
// ok is false when they break what the packs promised.
func mergeShards(plan []*shard, parts []*Decisions) (d *Decisions, ok bool) {
	owner := map[string]int{}
	for i, s := range plan {
		for ns := range s.owns {
			owner[ns] = i
		}
	}
	d = &Decisions{Policies: map[string]*PolicyDecision{}, Excluded: map[string]string{}, Warnings: []Finding{}, Deny: parts[0].Deny, Warn: parts[0].Warn}
	decidedBy := map[string]int{}
	for i, p := range parts {
		if len(p.Deny) > 0 || len(p.Warn) > 0 {
			return nil, false // gates judge the whole set of policies
		}
		for key, pol := range p.Policies {
			o, owned := owner[pol.Namespace]
			if pol.Clusterwide || !owned || o != i {
				return nil, false // not a policy of the shard's namespaces
			}
			if _, dup := d.Policies[key]; dup {
				return nil, false
			}
			d.Policies[key] = pol
			decidedBy[key] = i
		}
	}
	type verdict struct {
		excluded bool
		reason   string
	}
	judged := map[string]verdict{}
	for i, s := range plan {
		held := 0
		for _, id := range s.edges {
			r, x := parts[i].Excluded[id]
			v := verdict{x, r}
			if w, ok := judged[id]; ok && w != v {
				return nil, false // two shards judged one edge differently
			}
			judged[id] = v
			if x {
				d.Excluded[id] = r
				held++
			}
		}
		if held != len(parts[i].Excluded) {
			return nil, false // an exclusion of an edge the shard does not hold
		}
	}
	found := map[Finding]bool{}
	for i, p := range parts {
		for _, w := range p.Warnings {
			if o, ok := decidedBy[w.Policy]; ok && o != i {
				return nil, false // about a policy another shard decides
			}
			if !found[w] {
				found[w] = true
				d.Warnings = append(d.Warnings, w)
			}
		}
	}
	sortFindings(d.Warnings)
	return d, true
}
