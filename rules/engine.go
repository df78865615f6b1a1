package rules

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/policypilot/ppc/ir"
)

// DefaultTimeout bounds one evaluation of the rule packs.
const DefaultTimeout = 2 * time.Minute

// deniedBuiltins are removed from the capabilities packs are compiled
// with: network and file access, the clock, randomness and the runtime
// environment. Packs are untrusted and their output must be deterministic.
var deniedBuiltins = map[string]bool{
	"http.send":            true,
	"net.lookup_ip_addr":   true,
	"opa.runtime":          true,
	"time.now_ns":          true,
	"rand.intn":            true,
	"uuid.rfc4122":         true,
	"io.jwt.decode_verify": true, // reads the clock when no time is given
	"crypto.x509.parse_and_verify_certificates":              true,
	"crypto.x509.parse_and_verify_certificates_with_options": true,
	"providers.aws.sign_req":                                 true,
	"trace":                                                  false,
}

// Capabilities returns OPA's capabilities for this version minus the
// denied builtins, plus ppc's own (Builtins).
func Capabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	kept := caps.Builtins[:0]
	for _, b := range caps.Builtins {
		if !deniedBuiltins[b.Name] {
			kept = append(kept, b)
		}
	}
	caps.Builtins = kept
	for _, b := range Builtins() {
		caps.Builtins = append(caps.Builtins, b.Decl)
	}
	caps.AllowNet = []string{}
	return caps
}

// required are the rules the decision query reads; a pack that replaces a
// stage must still define them.
var required = []string{
	"data.ppc.synth.policies",
	"data.ppc.synth.excluded_edge",
	"data.ppc.synth.warnings",
	"data.ppc.gate.deny",
	"data.ppc.gate.warn",
	"data.ppc.anomaly.findings",
	// What the other stages read of ppc.hooks and ppc.identity: a pack
	// that replaces one of them and forgets an export would otherwise
	// change the result silently (an undefined hook reads as empty).
	"data.ppc.hooks.exclude_namespace",
	"data.ppc.hooks.exclude_ingress_namespace",
	"data.ppc.hooks.exclude_egress_namespace",
	"data.ppc.hooks.exclude_edge",
	"data.ppc.hooks.extra_labels",
	"data.ppc.hooks.policy_labels",
	"data.ppc.identity.selector",
	"data.ppc.identity.groups",
	"data.ppc.identity.members",
	"data.ppc.identity.member",
	"data.ppc.identity.name",
	"data.ppc.identity.unselectable",
	"data.ppc.identity.k8s_labels",
	"data.ppc.identity.cluster_of",
	"data.ppc.identity.multi_cluster",
}

const decisionQuery = `policies := data.ppc.synth.policies
excluded := data.ppc.synth.excluded_edge
warnings := data.ppc.synth.warnings
deny := data.ppc.gate.deny
warn := data.ppc.gate.warn`

// Engine is a prepared decision query over a layered set of packs. It is
// safe for concurrent use.
type Engine struct {
	pq rego.PreparedEvalQuery
	// args are the store, capabilities and builtins, with the packs as
	// the decision query compiled them: the other queries are prepared
	// against that compiler rather than compiling every module again
	// (~30 ms each, more than a 5k-edge graph's decision).
	args    []func(*rego.Rego)
	config  map[string]any
	modules []Module
	timeout time.Duration
	memory  uint64

	// Sharding (shard.go): whether only the default pack's Rego is
	// loaded, the edge ends per shard, and the query asking whether the
	// packs allow it.
	defaultRego bool
	shardEdges  int
	// contextNodes: Options.ContextNodes.
	contextNodes int
	// anomalyChunkEdges: Options.AnomalyChunkEdges.
	anomalyChunkEdges int
	shardable         lazyQuery
	context           lazyQuery // the shard context of a part of the nodes

	// The anomaly stage's query.
	anomaly lazyQuery
}

// lazyQuery is a query of the packs, prepared on first use.
type lazyQuery struct {
	once sync.Once
	pq   rego.PreparedEvalQuery
	err  error
}

// prepared returns q's query (the text query) prepared with the engine's
// packs, preparing it on the first call.
func (e *Engine) prepared(ctx context.Context, q *lazyQuery, query string) (rego.PreparedEvalQuery, error) {
	q.once.Do(func() {
		args := append([]func(*rego.Rego){rego.Query(query)}, e.args...)
		if q.pq, q.err = rego.New(args...).PrepareForEval(ctx); q.err != nil {
			q.err = compileError(q.err)
		}
	})
	return q.pq, q.err
}

// Options configure an engine.
type Options struct {
	Packs   []*Pack  // organisation packs, layered in order over the default
	Set     []string // key=value settings, applied last
	Timeout time.Duration
	// MemoryLimit bounds the heap during evaluation, in bytes (0:
	// DefaultMemoryLimit).
	MemoryLimit uint64
	// CheckSettings validates the merged settings before anything runs
	// (nil: not checked).
	CheckSettings SettingsCheck
	// ShardEdges is how many edge ends one shard of the decision holds
	// when the packs may be evaluated per shard of namespaces (0:
	// DefaultShardEdges; negative: always evaluate the graph whole).
	ShardEdges int
	// ContextNodes is about how many nodes one part of the shard context
	// holds at least (0: 1,024; see shard.go): tests set it low to compute
	// small graphs' contexts in parts.
	ContextNodes int
	// AnomalyChunkEdges is how many edges and denied attempts one chunk of
	// the anomaly stage's evaluation holds when only the default pack's
	// Rego is loaded (0: DefaultAnomalyChunkEdges; negative: always
	// evaluate the graph whole).
	AnomalyChunkEdges int
}

// NewEngine layers the packs, compiles them once and prepares the
// decision query. Compile errors keep OPA's file:line:col.
func NewEngine(ctx context.Context, opts Options) (*Engine, error) {
	def, err := DefaultPack()
	if err != nil {
		return nil, fmt.Errorf("embedded default pack: %w", err)
	}
	mods, cfg, err := Layer(def, opts.Packs, false)
	if err != nil {
		return nil, err
	}
	for _, s := range opts.Set {
		if err := SetConfig(cfg, s); err != nil {
			return nil, err
		}
	}
	if err := validateSettings(cfg, settingSources(def, opts.Packs, opts.Set), opts.CheckSettings); err != nil {
		return nil, err
	}
	store := inmem.NewFromObjectWithOpts(map[string]any{"ppc": map[string]any{"config": cfg}}, inmem.OptRoundTripOnWrite(true))
	args := []func(*rego.Rego){
		rego.Store(store),
		rego.Capabilities(Capabilities()),
		rego.StrictBuiltinErrors(true),
		rego.SetRegoVersion(ast.RegoV1),
	}
	for _, b := range Builtins() {
		args = append(args, b.Register)
	}
	var compiler *ast.Compiler
	decision := append([]func(*rego.Rego){rego.Query(decisionQuery), rego.CompilerHook(func(c *ast.Compiler) { compiler = c })}, args...)
	for _, m := range mods {
		decision = append(decision, rego.ParsedModule(m.Module))
	}
	pq, err := rego.New(decision...).PrepareForEval(ctx)
	if err != nil {
		return nil, compileError(err)
	}
	args = append(args, rego.Compiler(compiler))
	e := &Engine{pq: pq, args: args, config: cfg, modules: mods, timeout: opts.Timeout, memory: opts.MemoryLimit, shardEdges: opts.ShardEdges, contextNodes: cmp.Or(opts.ContextNodes, contextNodes), anomalyChunkEdges: opts.AnomalyChunkEdges, defaultRego: true}
	for _, p := range opts.Packs {
		for _, m := range p.Modules {
			if !m.Test {
				e.defaultRego = false
			}
		}
	}
	if e.timeout <= 0 {
		e.timeout = DefaultTimeout
	}
	if e.memory == 0 {
		e.memory = DefaultMemoryLimit
	}
	if err := e.checkContract(); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Engine) checkContract() error {
	defined := map[string]bool{}
	for _, m := range e.modules {
		for _, r := range m.Module.Rules {
			defined[r.Ref().GroundPrefix().String()] = true
			defined[m.Module.Package.Path.String()+"."+r.Head.Name.String()] = true
		}
	}
	var missing []string
	for _, r := range required {
		if !defined[r] {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("rule packs do not define %s (a pack that replaces a stage must keep its contract; see rules/README.md)", strings.Join(missing, ", "))
	}
	return nil
}

// Config returns the merged settings (data.ppc.config).
func (e *Engine) Config() map[string]any { return e.config }

// Modules returns the layered modules the engine was compiled from.
func (e *Engine) Modules() []Module { return e.modules }

// Decisions is what the rule packs decided.
type Decisions struct {
	Policies map[string]*PolicyDecision `json:"policies"`
	// Excluded maps edge IDs deliberately left denied to the reason.
	Excluded map[string]string `json:"excluded"`
	Warnings []Finding         `json:"warnings"`
	Deny     []Finding         `json:"deny"`
	Warn     []Finding         `json:"warn"`
	// Shards is how many shards of namespaces the packs were evaluated in
	// (1: the graph whole; see shard.go). It changes nothing decided.
	Shards int `json:"-"`
}

// PolicyDecision is one policy as the packs decided it. Ingress and Egress
// hold Cilium rule objects (decoded and validated by synthesis).
type PolicyDecision struct {
	// Cluster is the cluster of the policy's subjects ("" when the flows
	// name none); policies are written per cluster.
	Cluster      string            `json:"cluster,omitempty"`
	Namespace    string            `json:"namespace"`
	Name         string            `json:"name"`
	Selector     map[string]string `json:"selector"`
	Subjects     []string          `json:"subjects"`
	Labels       map[string]string `json:"labels"`
	Ingress      []json.RawMessage `json:"ingress,omitempty"`
	Egress       []json.RawMessage `json:"egress,omitempty"`
	IngressEdges []string          `json:"ingress_edges"`
	EgressEdges  []string          `json:"egress_edges"`
	// Clusterwide makes it a CiliumClusterwideNetworkPolicy (Namespace
	// ""), such as a baseline that applies to every endpoint.
	Clusterwide bool `json:"clusterwide,omitempty"`
	// DefaultDeny, when set, is the policy's enableDefaultDeny: false for
	// a direction means the policy allows without isolating.
	DefaultDeny *DefaultDeny `json:"default_deny,omitempty"`
}

// DefaultDeny is a policy's enableDefaultDeny.
type DefaultDeny struct {
	Ingress *bool `json:"ingress,omitempty"`
	Egress  *bool `json:"egress,omitempty"`
}

// Finding is a message from a pack: a warning, or a gate's deny/warn.
type Finding struct {
	Msg    string `json:"msg"`
	Policy string `json:"policy,omitempty"`
	Object string `json:"object,omitempty"`
}

// Input converts the graph into the packs' input document (see
// rules/README.md): nodes and edges as objects keyed by ID.
func Input(g *ir.Graph) map[string]any {
	nodes := make(map[string]any, len(g.Nodes))
	for id, n := range g.Nodes {
		nodes[id] = nodeInput(id, n)
	}
	in := inputDoc(nodes, edgesInput(g.Edges, newTermCache(nodes)))
	in["protocols"] = protocolCounts(maps.Values(g.Edges))
	in["ports"] = portCounts(maps.Values(g.Edges))
	return in
}

// edgesInput converts edges with edgeInput.
func edgesInput(es map[string]*ir.Edge, tc *termCache) map[string]any {
	edges := make(map[string]any, len(es))
	for id, e := range es {
		edges[id] = edgeInput(id, e, tc)
	}
	return edges
}

// protocolCounts is input.protocols: how many of the edges use each
// protocol (so that a pack asks whether any edge is ICMP without a pass
// over them).
func protocolCounts(es iter.Seq[*ir.Edge]) map[string]any {
	n := map[string]int{}
	for e := range es {
		n[e.Protocol]++
	}
	out := make(map[string]any, len(n))
	for p, c := range n {
		out[p] = c
	}
	return out
}

// portCounts is input.ports: how many of the edges use each port (ICMP
// types included), keyed by the port as a number (so that a pack asks
// whether any edge's port is in a range without a pass over the edges).
func portCounts(es iter.Seq[*ir.Edge]) ast.Value {
	n := map[uint16]int64{}
	for e := range es {
		n[e.Port]++
	}
	o := ast.NewObject()
	for p, c := range n {
		o.Insert(ast.InternedTerm(int64(p)), ast.InternedTerm(c))
	}
	return o
}

func inputDoc(nodes, edges map[string]any) map[string]any {
	return map[string]any{"ir_version": json.Number(fmt.Sprint(ir.Version)), "nodes": nodes, "edges": edges}
}

// nodeInput is node id as the packs read it, built as OPA's value
// directly (see edgeInput).
func nodeInput(id string, n *ir.Node) ast.Object {
	strs := func(xs []string) *ast.Term {
		ts := make([]*ast.Term, len(xs))
		for i, x := range xs {
			ts[i] = ast.StringTerm(x)
		}
		return ast.ArrayTerm(ts...)
	}
	o := ast.NewObject(
		ast.Item(ast.InternedTerm("id"), ast.StringTerm(id)),
		ast.Item(ast.InternedTerm("kind"), ast.InternedTerm(string(n.Kind))),
	)
	if n.Namespace != "" {
		o.Insert(ast.InternedTerm("namespace"), ast.StringTerm(n.Namespace))
	}
	if n.Name != "" {
		o.Insert(ast.InternedTerm("name"), ast.StringTerm(n.Name))
	}
	if n.Kind == ir.KindWorkload {
		o.Insert(ast.InternedTerm("pods"), strs(n.Pods))
		o.Insert(ast.InternedTerm("labels"), strs(n.Labels))
		if k8s := k8sLabels(n.Labels); k8s != nil {
			o.Insert(ast.InternedTerm("k8s_labels"), ast.NewTerm(k8s))
		}
	}
	if len(n.Entities) > 0 {
		o.Insert(ast.InternedTerm("entities"), strs(n.Entities))
	}
	if n.CIDR != "" {
		o.Insert(ast.InternedTerm("cidr"), ast.StringTerm(n.CIDR))
	}
	if n.FQDN != "" {
		o.Insert(ast.InternedTerm("fqdn"), ast.StringTerm(n.FQDN))
	}
	return o
}

// k8sLabels is a workload's k8s_labels: its labels of source k8s keyed
// without the "k8s:" prefix, as the default pack's identity.k8s_labels
// parses them (the key up to the first "=", not empty; the value after
// it). Parsing them in Rego cost more than anything else the packs do for
// a workload. nil when two labels give one key different values: the
// pack's own parse then judges the labels, as it would without the field;
// so too when a label is not UTF-8 (Rego's string builtins read it as
// code points, replacing what is not one), which no label decoded from
// JSON is.
func k8sLabels(labels []string) ast.Object {
	o := ast.NewObject()
	for _, l := range labels {
		kv, ok := strings.CutPrefix(l, "k8s:")
		if !ok {
			continue
		}
		if !utf8.ValidString(kv) {
			return nil
		}
		i := strings.IndexByte(kv, '=')
		if i <= 0 {
			continue
		}
		k, v := ast.StringTerm(kv[:i]), ast.StringTerm(kv[i+1:])
		if had := o.Get(k); had != nil {
			if !had.Equal(v) {
				return nil
			}
			continue
		}
		o.Insert(k, v)
	}
	return o
}

// edgeInput is edge id as the packs read it, built as OPA's value
// directly: the edges are most of the input, and converting Go maps into
// OPA's values cost more than building them (every shard of the decision
// and the anomaly stage build theirs). Keys and the values every edge
// repeats (protocols, verdicts, kinds of direction evidence) are OPA's
// interned terms (see init), and the cache shares node IDs and count
// objects between edges. src_node and dst_node are the input's own node
// objects (shared, not copied): a rule reads e.src_node.kind in one
// expression, where input.nodes[e.src].kind takes two.
func edgeInput(id string, e *ir.Edge, tc *termCache) ast.Value {
	num := func(n int64) *ast.Term { return ast.InternedTerm(n) }
	src, dst := tc.end(e.Src), tc.end(e.Dst)
	items := make([][2]*ast.Term, 0, 12) // one object built whole: no growth as fields are added
	items = append(items,
		ast.Item(ast.InternedTerm("id"), ast.StringTerm(id)),
		ast.Item(ast.InternedTerm("src"), tc.node(e.Src)),
		ast.Item(ast.InternedTerm("dst"), tc.node(e.Dst)),
		ast.Item(ast.InternedTerm("protocol"), ast.InternedTerm(e.Protocol)),
		ast.Item(ast.InternedTerm("port"), num(int64(e.Port))),
		ast.Item(ast.InternedTerm("flows"), num(e.Flows())),
		ast.Item(ast.InternedTerm("verdicts"), tc.counts(e.Verdicts)),
		ast.Item(ast.InternedTerm("direction"), tc.counts(e.Direction)),
		ast.Item(ast.InternedTerm("same_namespace"), ast.InternedTerm(tc.sameNamespace(e.Src, e.Dst))),
	)
	if src != nil {
		items = append(items, ast.Item(ast.InternedTerm("src_node"), src))
	}
	if dst != nil {
		items = append(items, ast.Item(ast.InternedTerm("dst_node"), dst))
	}
	if e.L7 != nil {
		hs := make([]*ast.Term, len(e.L7.HTTP))
		for i, h := range e.L7.HTTP {
			hs[i] = ast.ObjectTerm(ast.Item(ast.InternedTerm("method"), ast.InternedTerm(h.Method)), ast.Item(ast.InternedTerm("path"), ast.StringTerm(h.Path)))
		}
		ds := make([]*ast.Term, len(e.L7.DNS))
		for i, d := range e.L7.DNS {
			ds[i] = ast.StringTerm(d)
		}
		items = append(items, ast.Item(ast.InternedTerm("l7"), ast.ObjectTerm(
			ast.Item(ast.InternedTerm("truncated"), ast.InternedTerm(e.L7.Truncated)),
			ast.Item(ast.InternedTerm("http"), ast.ArrayTerm(hs...)),
			ast.Item(ast.InternedTerm("dns"), ast.ArrayTerm(ds...)),
		)))
	}
	return ast.NewObject(items...)
}

// termCache shares the terms edges repeat within one input: one string
// term per node ID (a node is the end of many edges), one term per node
// object, and one object per distinct count map (most edges count a few
// connections, by one or two verdicts and kinds of evidence). OPA never
// changes a value of the input, so edges can share them. Not safe for
// concurrent use.
type termCache struct {
	nodes   map[string]*ast.Term
	objs    map[string]*ast.Term
	ends    map[string]*ast.Term
	ns      map[string]*ast.Term // a node's namespace (nil: none)
	nodeDoc map[string]any       // the input's nodes: ID to ast.Object
	key     []byte
}

// newTermCache returns a cache for the edges of an input whose nodes are
// nodes (ID to ast.Object, complete: a node object must not change once
// an edge holds it, or the edge's hash would be stale).
func newTermCache(nodes map[string]any) *termCache {
	return &termCache{nodes: map[string]*ast.Term{}, objs: map[string]*ast.Term{}, ends: map[string]*ast.Term{}, ns: map[string]*ast.Term{}, nodeDoc: nodes}
}

// end is the term of node id's input object (nil if the input has none).
func (tc *termCache) end(id string) *ast.Term {
	t, ok := tc.ends[id]
	if !ok {
		if o, isObj := tc.nodeDoc[id].(ast.Object); isObj {
			t = ast.NewTerm(o)
		}
		tc.ends[id] = t
	}
	return t
}

// sameNamespace says whether nodes a and b both have a namespace in the
// input, the same.
func (tc *termCache) sameNamespace(a, b string) bool {
	x, y := tc.namespace(a), tc.namespace(b)
	return x != nil && y != nil && x.Equal(y)
}

// namespace is node id's namespace in the input (nil: none, or no node).
func (tc *termCache) namespace(id string) *ast.Term {
	t, ok := tc.ns[id]
	if !ok {
		if n := tc.end(id); n != nil {
			t = n.Get(ast.InternedTerm("namespace"))
		}
		tc.ns[id] = t
	}
	return t
}

// node is the term of node ID id.
func (tc *termCache) node(id string) *ast.Term {
	t, ok := tc.nodes[id]
	if !ok {
		t = ast.StringTerm(id)
		tc.nodes[id] = t
	}
	return t
}

// counts is c as an object ({"FORWARDED": 3}).
func (tc *termCache) counts(c ir.Counts) *ast.Term {
	tc.key = tc.key[:0]
	for _, x := range c {
		tc.key = strconv.AppendInt(append(append(tc.key, x.Key...), 0), x.N, 10)
		tc.key = append(tc.key, 0)
	}
	if t, ok := tc.objs[string(tc.key)]; ok {
		return t
	}
	o := ast.NewObject()
	for _, x := range c {
		o.Insert(ast.InternedTerm(x.Key), ast.InternedTerm(x.N))
	}
	t := ast.NewTerm(o)
	tc.objs[string(tc.key)] = t
	return t
}

func init() {
	// The input's keys and the strings edges repeat, interned once for
	// every input (ast.InternedTerm returns these without allocating).
	ast.InternStringTerm(append([]string{
		"id", "kind", "namespace", "name", "pods", "labels", "entities", "cidr", "fqdn", "display", "denied_only",
		"src", "dst", "src_node", "dst_node", "same_namespace", "protocol", "port", "flows", "verdicts", "direction", "l7", "truncated", "http", "dns", "method", "path",
		"workload", "entity",
		"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
	}, ir.EdgeVocabulary...)...)
}

// Decide evaluates the packs over the graph: per shard of namespaces on
// every core when the packs allow it (shard.go), else whole.
func (e *Engine) Decide(ctx context.Context, g *ir.Graph) (*Decisions, error) {
	sh, err := e.shardPlan(ctx, g)
	if err != nil {
		return nil, err
	}
	if sh != nil {
		d, ok, err := e.decideShards(ctx, g, sh)
		if err != nil || ok {
			return d, err
		}
	}
	return e.decideInput(ctx, Input(g))
}

// decideInput evaluates the decision query over one input document.
func (e *Engine) decideInput(ctx context.Context, input map[string]any) (*Decisions, error) {
	b, err := e.eval(ctx, e.pq, input, "the decision query", "is a required rule undefined?", rawTerms)
	if err != nil {
		return nil, err
	}
	d, err := decodeDecisions(b)
	if err != nil {
		return nil, fmt.Errorf("rule packs' decisions break the contract: %w", err)
	}
	d.Shards = 1
	return d, nil
}

// rawTerms leaves an evaluation's results as OPA's terms (*ast.Term)
// rather than converting them to Go values.
var rawTerms = rego.EvalGenerateJSON(func(t *ast.Term, _ *rego.EvalContext) (any, error) { return t, nil })

// eval evaluates a prepared query of the packs on input within the
// engine's bounds and returns the bindings of its one result (what names
// the query in the error, hint what to check when there is not one), as
// Go values unless an option (rawTerms) says otherwise.
func (e *Engine) eval(ctx context.Context, pq rego.PreparedEvalQuery, input map[string]any, what, hint string, opts ...rego.EvalOption) (rego.Vars, error) {
	in, err := ast.InterfaceToValue(input)
	if err != nil {
		return nil, fmt.Errorf("convert IR for rule packs: %w", err)
	}
	var rs rego.ResultSet
	err = Bounds{Timeout: e.timeout, Memory: e.memory}.Run(ctx, func(ctx context.Context, tr topdown.QueryTracer) error {
		opts := append([]rego.EvalOption{rego.EvalParsedInput(in)}, opts...)
		if tr != nil {
			opts = append(opts, rego.EvalQueryTracer(tr))
		}
		var err error
		rs, err = pq.Eval(ctx, opts...)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(rs) != 1 {
		return nil, fmt.Errorf("rule packs produced %d results for %s, want 1 (%s)", len(rs), what, hint)
	}
	return rs[0].Bindings, nil
}

// compileError presents OPA's compile errors one per line as
// "file:line:col: code: message", without the wrapping OPA adds.
func compileError(err error) error {
	var es ast.Errors
	if !errors.As(err, &es) || len(es) == 0 {
		return err
	}
	lines := make([]string, len(es))
	for i, e := range es {
		loc := ""
		if e.Location != nil {
			loc = fmt.Sprintf("%s:%d: ", e.Location.File, e.Location.Row)
			if e.Location.Col > 0 {
				loc = fmt.Sprintf("%s:%d:%d: ", e.Location.File, e.Location.Row, e.Location.Col)
			}
		}
		lines[i] = fmt.Sprintf("%s%s: %s", loc, e.Code, e.Message)
	}
	return errors.New(strings.Join(lines, "\n"))
}

// CompileError formats OPA's compile errors one per line with their
// file:line:col (other errors are returned as they are).
func CompileError(err error) error { return compileError(err) }
