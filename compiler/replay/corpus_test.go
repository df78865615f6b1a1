package replay

import (
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/ir/irtest"
)

// corpus is a generated policy set and flows over it, for the agreement
// test and the throughput benchmark.
type corpus struct {
	policies string
	graph    *ir.Graph
	flows    []flow
}

type flow struct {
	src, dst *ir.Node
	proto    string
	port     uint16
}

// genCorpus writes n policies, one per app, each selecting three
// identities (versions), with rules of every kind: endpoint peers,
// entities, CIDR sets with except, DNS with L7, HTTP on every fifth, an
// egress deny on every seventh; and nflows random connection attempts,
// about half pod to pod, 30% to addresses, 20% DNS, so that verdicts mix.
func genCorpus(n, nflows int, seed uint64) *corpus {
	r := rand.New(rand.NewPCG(seed, 1))
	var ps []string
	for i := 0; i < n; i++ {
		peer := (i + 1) % n
		y := fmt.Sprintf(`apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: p%d, namespace: bench}
spec:
  endpointSelector: {matchLabels: {app: w%d}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: w%d}}]
    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
  - fromEntities: [cluster]
    toPorts: [{ports: [{port: "9090", protocol: TCP}]}]
  egress:
  - toEndpoints: [{matchLabels: {app: w%d}}]
    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
  - toEntities: [world]
    toPorts: [{ports: [{port: "443", protocol: TCP}]}]
  - toCIDRSet: [{cidr: 10.%d.0.0/16, except: [10.%d.128.0/17]}]
    toPorts: [{ports: [{port: "5432", protocol: TCP}]}]
  - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s:k8s-app: kube-dns}}]
    toPorts: [{ports: [{port: "53", protocol: UDP}], rules: {dns: [{matchPattern: "*"}]}}]
`, i, i, (i+n-1)%n, peer, i%250, i%250)
		if i%5 == 0 {
			y += `  - toEndpoints: [{matchLabels: {app: w` + strconv.Itoa((i+2)%n) + `}}]
    toPorts: [{ports: [{port: "9090", protocol: TCP}], rules: {http: [{method: GET, path: "/api/.*"}]}}]
`
		}
		if i%7 == 0 {
			y += "  egressDeny:\n  - toCIDR: [10." + strconv.Itoa((i+1)%250) + ".0.0/16]\n"
		}
		ps = append(ps, y)
	}
	items := []irtest.Item{irtest.Workload("kube-system", "kube-dns", "k8s-app=kube-dns")}
	for i := 0; i < n; i++ {
		for v := 1; v <= 3; v++ {
			items = append(items, irtest.Workload("bench", fmt.Sprintf("w%d-v%d", i, v), fmt.Sprintf("app=w%d", i), fmt.Sprintf("version=v%d", v)))
		}
	}
	type spec struct{ src, dst, pp string }
	ports := []string{"TCP/8080", "TCP/9090", "TCP/443", "TCP/5432", "TCP/22", "UDP/53"}
	var specs []spec
	for k := 0; k < nflows; k++ {
		i := r.IntN(n)
		src := fmt.Sprintf("bench/w%d-v%d", i, 1+r.IntN(3))
		var dst, pp string
		switch x := r.IntN(10); {
		case x < 5:
			j := r.IntN(n)
			if r.IntN(2) == 0 {
				j = (i + 1 + r.IntN(2)) % n
			}
			dst = fmt.Sprintf("bench/w%d-v%d", j, 1+r.IntN(3))
			pp = ports[r.IntN(3)]
			if r.IntN(4) == 0 {
				// Reverse: the peer connects to src's ingress.
				src, dst = dst, src
			}
		case x < 8:
			b := i % 250
			if r.IntN(3) == 0 {
				b = r.IntN(250)
			}
			dst = fmt.Sprintf("cidr:10.%d.%d.%d/32", b, r.IntN(256), 1+r.IntN(254))
			if r.IntN(4) == 0 {
				dst = fmt.Sprintf("cidr:192.0.2.%d/32", 1+r.IntN(254))
			}
			pp = ports[2+r.IntN(3)]
		default:
			dst = "kube-system/kube-dns"
			pp = "UDP/53"
			if r.IntN(5) == 0 {
				pp = "TCP/53"
			}
		}
		specs = append(specs, spec{src, dst, pp})
		items = append(items, irtest.Edge(src, dst, pp))
	}
	g := irtest.Graph(items...)
	c := &corpus{policies: strings.Join(ps, "---\n"), graph: g}
	// Resolve each flow to its nodes.
	byName := map[string]*ir.Node{}
	for _, nd := range g.Nodes {
		switch nd.Kind {
		case ir.KindWorkload:
			byName[nd.Namespace+"/"+nd.Name] = nd
		case ir.KindCIDR:
			byName["cidr:"+nd.CIDR] = nd
		}
	}
	for _, s := range specs {
		proto, port, _ := strings.Cut(s.pp, "/")
		p, _ := strconv.Atoi(port)
		c.flows = append(c.flows, flow{byName[s.src], byName[s.dst], proto, uint16(p)})
	}
	return c
}

// corpusSize is the number of flows TestAgreement replays: 3000 by
// default (CI); PPC_REPLAY_FLOWS=100000 runs the full bar.
func corpusSize(t testing.TB) int {
	if s := os.Getenv("PPC_REPLAY_FLOWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("PPC_REPLAY_FLOWS: %v", err)
		}
		return n
	}
	return 3000
}

// TestAgreement is the replay bar: on a generated corpus over 100
// policies, every cached verdict equals policy.LookupFlow's, Cilium's own
// simulation that recomputes both endpoints' policies per call.
func TestAgreement(t *testing.T) {
	c := genCorpus(100, corpusSize(t), 1)
	e := newEngine(t, c.policies, c.graph)
	var allowed, denied, proxied int
	for i, f := range c.flows {
		got, err := e.Check(f.src, f.dst, f.proto, f.port)
		if err != nil {
			t.Fatal(err)
		}
		want, err := e.Reference(f.src, f.dst, f.proto, f.port)
		if err != nil {
			t.Fatal(err)
		}
		if got.Egress.Decision != want.Egress.Decision || got.Ingress.Decision != want.Ingress.Decision {
			t.Fatalf("flow %d %s -> %s %s/%d: cached %v/%v, policy.LookupFlow %v/%v", i, f.src.ID, f.dst.ID, f.proto, f.port,
				got.Egress.Decision, got.Ingress.Decision, want.Egress.Decision, want.Ingress.Decision)
		}
		switch {
		case !got.Allowed():
			denied++
		case got.Proxied():
			proxied++
			allowed++
		default:
			allowed++
		}
	}
	t.Logf("%d flows over 100 policies: %d allowed (%d proxied), %d denied; all equal to policy.LookupFlow", len(c.flows), allowed, proxied, denied)
	// The corpus must exercise both outcomes and the proxy in earnest.
	if allowed < len(c.flows)/10 || denied < len(c.flows)/10 || proxied == 0 {
		t.Errorf("corpus too one-sided: %d allowed, %d denied, %d proxied", allowed, denied, proxied)
	}
}

// BenchmarkCheck measures verdicts per second on one goroutine over 100
// policies with every identity's policy cached (the replay hot path).
// Run with -cpu 1 for the one-core figure.
func BenchmarkCheck(b *testing.B) {
	c := genCorpus(100, 100_000, 2)
	e := newEngine(b, c.policies, c.graph)
	for _, f := range c.flows { // warm the cache
		if _, err := e.Check(f.src, f.dst, f.proto, f.port); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		f := c.flows[i%len(c.flows)]
		if _, err := e.Check(f.src, f.dst, f.proto, f.port); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verdicts/s")
}

// BenchmarkReplayCold measures a whole replay of 100k flows over 100
// policies from a fresh engine: loading, identities, computing every
// identity's policy once, and the verdicts.
func BenchmarkReplayCold(b *testing.B) {
	c := genCorpus(100, 100_000, 3)
	ps := loadPolicies(b, c.policies)
	b.ResetTimer()
	for b.Loop() {
		e, err := New(agentDefaults())
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Load(ps); err != nil {
			b.Fatal(err)
		}
		if err := e.AddGraph(c.graph); err != nil {
			b.Fatal(err)
		}
		for _, f := range c.flows {
			if _, err := e.Check(f.src, f.dst, f.proto, f.port); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(c.flows)*b.N)/b.Elapsed().Seconds(), "flows/s")
}

// BenchmarkColdStart measures policy import (Parse, RulesToPolicyEntries,
// ReplaceByResource) and identity set-up for 100, 1,000 and 5,000
// policies (three identities each), and the first verdict, which computes
// the source's and destination's policies.
func BenchmarkColdStart(b *testing.B) {
	for _, n := range []int{100, 1_000, 5_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			c := genCorpus(n, 2_000, 4)
			ps := loadPolicies(b, c.policies)
			var load, ids, first time.Duration
			for b.Loop() {
				t0 := time.Now()
				e, err := New(agentDefaults())
				if err != nil {
					b.Fatal(err)
				}
				if err := e.Load(ps); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := e.AddGraph(c.graph); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				f := c.flows[0]
				if _, err := e.Check(f.src, f.dst, f.proto, f.port); err != nil {
					b.Fatal(err)
				}
				load, ids, first = load+t1.Sub(t0), ids+t2.Sub(t1), first+time.Since(t2)
			}
			b.ReportMetric(load.Seconds()/float64(b.N), "import-s")
			b.ReportMetric(ids.Seconds()/float64(b.N), "identities-s")
			b.ReportMetric(first.Seconds()/float64(b.N), "first-verdict-s")
			b.ReportMetric(float64(len(c.graph.Nodes)), "identities")
		})
	}
}

// TestPass: Replay and Probe compute each identity's policy once, in one
// pass that lets go of it before the next identity's (Engine.pass): every
// replayed verdict is Check's, the probe run beside the replay
// (ClusterSet.Run) equals the probe run alone, and the engine keeps no
// policy afterwards.
func TestPass(t *testing.T) {
	c := genCorpus(100, 3000, 1)
	e := newEngine(t, c.policies, c.graph)
	m := &Mesh{clusters: []string{""}, engines: []*Engine{e}}
	o := ProbeOptions{Max: 50_000, Examples: 3}
	rep, together, err := m.run(c.graph, true, &o)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.cache) != 0 {
		t.Errorf("the pass left %d policies in the cache", len(e.cache))
	}
	alone, err := e.Probe(c.graph, o)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(together, alone) {
		t.Errorf("the probe beside the replay differs from the probe alone:\n%+v\n%+v", together, alone)
	}
	if alone.Checked == 0 || alone.Allowed == 0 || alone.Allowed == alone.Checked {
		t.Errorf("probe too one-sided: %d of %d allowed", alone.Allowed, alone.Checked)
	}
	var allowed, proxied int
	for _, r := range rep.Results {
		want, err := e.Check(c.graph.Nodes[r.Edge.Src], c.graph.Nodes[r.Edge.Dst], r.Edge.Protocol, r.Edge.Port)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(r.Verdict, want) {
			t.Fatalf("%s: replayed %+v, Check %+v", r.Edge.ID, r.Verdict, want)
		}
		if want.Allowed() {
			allowed++
		}
		if want.Proxied() {
			proxied++
		}
	}
	if allowed == 0 || allowed == len(rep.Results) || proxied == 0 {
		t.Errorf("corpus too one-sided: %d of %d allowed, %d proxied", allowed, len(rep.Results), proxied)
	}
	// Probe candidates are verdicts too: each one equals Check's.
	if alone.Allowed > 0 {
		for _, pc := range alone.ByPolicy {
			for _, h := range pc.Examples {
				v, err := e.Check(c.graph.Nodes[h.Src], c.graph.Nodes[h.Dst], h.Protocol, h.Port)
				if err != nil {
					t.Fatal(err)
				}
				if !v.Allowed() {
					t.Errorf("probe example %s -> %s %s/%d allowed, Check denies it", h.Src, h.Dst, h.Protocol, h.Port)
				}
			}
		}
	}
	t.Logf("%d connections (%d allowed, %d proxied) equal to Check; probe %d of %d allowed", len(rep.Results), allowed, proxied, alone.Allowed, alone.Checked)
}

// TestInternSameVerdicts: sharing the label selectors of equal key
// between policy entries (Engine.intern) and anchoring the peer selectors
// in the selector cache (Engine.anchor), each alone and both, change no
// verdict, rule attribution or probe result on the corpus; interning
// keeps one selector of each key, and the cache holds the anchored
// selectors alone once the pass is over.
func TestInternSameVerdicts(t *testing.T) {
	c := genCorpus(100, 3000, 2)
	run := func(noIntern, noAnchor bool) (*Engine, *Report, *ProbeReport) {
		e, err := New(agent.Defaults())
		if err != nil {
			t.Fatal(err)
		}
		e.noIntern, e.noAnchor = noIntern, noAnchor
		if err := e.Load(loadPolicies(t, c.policies)); err != nil {
			t.Fatal(err)
		}
		if err := e.AddGraph(c.graph); err != nil {
			t.Fatal(err)
		}
		m := &Mesh{clusters: []string{""}, engines: []*Engine{e}}
		rep, pr, err := m.run(c.graph, true, &ProbeOptions{Max: 50_000, Examples: 3})
		if err != nil {
			t.Fatal(err)
		}
		return e, rep, pr
	}
	shared, rep, pr := run(false, false)
	_, rep0, pr0 := run(true, true)
	if !reflect.DeepEqual(rep, rep0) {
		t.Error("replay with shared, anchored selectors differs from replay with Cilium's own")
	}
	if !reflect.DeepEqual(pr, pr0) {
		t.Errorf("probe with shared, anchored selectors differs:\n%+v\n%+v", pr, pr0)
	}
	// Each alone, too.
	if _, r, p := run(true, false); !reflect.DeepEqual(r, rep0) || !reflect.DeepEqual(p, pr0) {
		t.Error("replay or probe with anchored selectors differs from Cilium's own")
	}
	if _, r, p := run(false, true); !reflect.DeepEqual(r, rep0) || !reflect.DeepEqual(p, pr0) {
		t.Error("replay or probe with shared selectors differs from Cilium's own")
	}
	var allowed int
	for _, r := range rep.Results {
		if r.Verdict.Allowed() {
			allowed++
		}
	}
	if allowed == 0 || allowed == len(rep.Results) || pr.Allowed == 0 {
		t.Errorf("corpus too one-sided: %d of %d allowed, %d probe candidates allowed", allowed, len(rep.Results), pr.Allowed)
	}
	if len(shared.selectors) == 0 {
		t.Fatal("no selector was interned")
	}
	// Every peer selector a policy used was an anchored one: the cache
	// holds the anchored selectors and nothing else once the pass is over.
	if len(shared.anchored) == 0 {
		t.Fatal("no selector was anchored")
	}
	if n := len(shared.repo.GetSelectorCache().GetModel()); n != len(shared.anchored) {
		t.Errorf("%d peer selectors cached after the pass, want the %d anchored", n, len(shared.anchored))
	}
}
