package replay

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/cilium/pkg/policy"
	"sigs.k8s.io/yaml"

	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/ir/irtest"
)

// policies is a small hand-written policy set that exercises every kind
// of verdict: allow by endpoint, default deny, explicit deny, L7 HTTP
// and DNS redirects, CIDR with except, FQDN, and a clusterwide policy
// with specs.
const policies = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: frontend, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: frontend}}
  egress:
  - toEndpoints: [{matchLabels: {app: backend}}]
    toPorts: [{ports: [{port: "8080", protocol: TCP}, {port: "9090", protocol: TCP}]}]
  - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s:k8s-app: kube-dns}}]
    toPorts: [{ports: [{port: "53", protocol: UDP}], rules: {dns: [{matchPattern: "*.example.com"}]}}]
  - toCIDRSet: [{cidr: 203.0.113.0/24, except: [203.0.113.128/25]}]
    toPorts: [{ports: [{port: "5432", protocol: TCP}]}]
  - toFQDNs: [{matchName: api.example.com}]
    toPorts: [{ports: [{port: "443", protocol: TCP}]}]
  - toEntities: [world]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]
  egressDeny:
  - toCIDR: [198.51.100.0/24]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: backend, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: frontend}}]
    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
  - fromEndpoints: [{matchLabels: {app: frontend}}]
    toPorts:
    - ports: [{port: "9090", protocol: TCP}]
      rules: {http: [{method: GET, path: /healthz}]}
  - fromEndpoints: [{matchLabels: {app: admin}}]
    toPorts: [{ports: [{port: "22", protocol: TCP}]}]
---
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: unused}
specs:
- endpointSelector: {matchLabels: {app: nothing}}
  ingress: [{fromEntities: [world]}]
`

func loadPolicies(t testing.TB, y string) []Policy {
	t.Helper()
	var ps []Policy
	for _, doc := range strings.Split(y, "\n---\n") {
		js, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		var head struct{ Kind string }
		if err := json.Unmarshal(js, &head); err != nil {
			t.Fatal(err)
		}
		p, err := Decode(head.Kind, js)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps
}

func testGraph() *ir.Graph {
	return irtest.Graph(
		irtest.Workload("shop", "frontend", "app=frontend"),
		irtest.Workload("shop", "backend", "app=backend"),
		irtest.Workload("shop", "other", "app=other"),
		irtest.Workload("kube-system", "kube-dns", "k8s-app=kube-dns"),
		irtest.EdgeN("shop/frontend", "shop/backend", "TCP/8080", 10),
		irtest.Edge("shop/frontend", "shop/backend", "TCP/9999"),
		irtest.Edge("shop/frontend", "shop/backend", "TCP/9090"),
		irtest.EdgeN("shop/frontend", "kube-system/kube-dns", "UDP/53", 4),
		irtest.Edge("shop/frontend", "cidr:203.0.113.10/32", "TCP/5432"),
		irtest.Edge("shop/frontend", "cidr:203.0.113.200/32", "TCP/5432"),
		irtest.Edge("shop/frontend", "cidr:198.51.100.7/32", "TCP/80"),
		irtest.Edge("shop/frontend", "fqdn:api.example.com", "TCP/443"),
		irtest.Edge("shop/frontend", "fqdn:eu.example.net", "TCP/443"),
		irtest.Edge("shop/other", "shop/backend", "TCP/8080"),
		irtest.Edge("entity:host", "shop/backend", "TCP/8080"),
	)
}

func newEngine(t testing.TB, y string, g *ir.Graph) *Engine {
	t.Helper()
	s := agent.Defaults()
	e, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Load(loadPolicies(t, y)); err != nil {
		t.Fatal(err)
	}
	if err := e.AddGraph(g); err != nil {
		t.Fatal(err)
	}
	return e
}

func pointString(p Point) string {
	s := p.Decision.String()
	if p.Proxy {
		s += "+proxy"
	}
	if len(p.By()) > 0 {
		s += " " + fmt.Sprint(p.By())
	}
	for _, l := range p.L7() {
		b, _ := json.Marshal(l.Rules)
		s += fmt.Sprintf(" %s%s", l.Parser, b)
	}
	return s
}

// TestVerdicts checks each kind of verdict, the rules it is attributed to
// and the L7 rules of proxied connections; and that every decision equals
// policy.LookupFlow's.
func TestVerdicts(t *testing.T) {
	g := testGraph()
	e := newEngine(t, policies, g)
	want := map[string][2]string{
		"shop/frontend -> shop/backend TCP/8080": {"allowed [shop/frontend spec.egress[0]]", "allowed [shop/backend spec.ingress[0]]"},
		"shop/frontend -> shop/backend TCP/9999": {"denied", "denied"},
		"shop/frontend -> shop/backend TCP/9090": {"allowed [shop/frontend spec.egress[0]]",
			`allowed+proxy [shop/backend spec.ingress[1]] http{"http":[{"path":"/healthz","method":"GET"}]}`},
		"shop/frontend -> kube-system/kube-dns UDP/53":    {`allowed+proxy [shop/frontend spec.egress[1]] dns{"dns":[{"matchPattern":"*.example.com"}]}`, "allowed"},
		"shop/frontend -> cidr:203.0.113.10/32 TCP/5432":  {"allowed [shop/frontend spec.egress[2]]", "n/a"},
		"shop/frontend -> cidr:203.0.113.200/32 TCP/5432": {"denied", "n/a"},
		"shop/frontend -> cidr:198.51.100.7/32 TCP/80":    {"denied [shop/frontend spec.egressDeny[0]]", "n/a"},
		"shop/frontend -> fqdn:api.example.com TCP/443":   {"allowed [shop/frontend spec.egress[3]]", "n/a"},
		"shop/frontend -> fqdn:eu.example.net TCP/443":    {"denied", "n/a"},
		"shop/other -> shop/backend TCP/8080":             {"allowed", "denied"},
		"entity:host -> shop/backend TCP/8080":            {"n/a", "allowed"},
	}
	for _, ed := range g.SortedEdges() {
		src, dst := g.Nodes[ed.Src], g.Nodes[ed.Dst]
		name := fmt.Sprintf("%s -> %s %s/%d", short(src), short(dst), ed.Protocol, ed.Port)
		v, err := e.Check(src, dst, ed.Protocol, ed.Port)
		if err != nil {
			t.Fatal(err)
		}
		w, ok := want[name]
		if !ok {
			t.Errorf("unexpected edge %s", name)
			continue
		}
		if got := [2]string{pointString(v.Egress), pointString(v.Ingress)}; got != w {
			t.Errorf("%s:\n got egress %s\n     ingress %s\nwant egress %s\n     ingress %s", name, got[0], got[1], w[0], w[1])
		}
		ref, err := e.Reference(src, dst, ed.Protocol, ed.Port)
		if err != nil {
			t.Fatal(err)
		}
		if ref.Egress.Decision != v.Egress.Decision || ref.Ingress.Decision != v.Ingress.Decision {
			t.Errorf("%s: cached %v/%v, policy.LookupFlow %v/%v", name, v.Egress.Decision, v.Ingress.Decision, ref.Egress.Decision, ref.Ingress.Decision)
		}
	}
}

func short(n *ir.Node) string {
	switch n.Kind {
	case ir.KindWorkload:
		return n.Namespace + "/" + n.Name
	case ir.KindEntity:
		return "entity:" + strings.Join(n.Entities, "+")
	}
	return n.ID
}

// TestReplayReport checks the accounting: flows and connections by
// verdict, per-policy use, the rules no flow reached, policies never
// exercised.
func TestReplayReport(t *testing.T) {
	g := testGraph()
	e := newEngine(t, policies, g)
	r, err := e.Replay(g)
	if err != nil {
		t.Fatal(err)
	}
	if r.Connections != 11 || r.Allowed != 6 || r.Denied != 5 || r.Proxied != 2 {
		t.Errorf("connections %d allowed %d denied %d proxied %d", r.Connections, r.Allowed, r.Denied, r.Proxied)
	}
	if r.Flows != 23 || r.AllowedFlows != 18 || r.DeniedFlows != 5 {
		t.Errorf("flows %d allowed %d denied %d", r.Flows, r.AllowedFlows, r.DeniedFlows)
	}
	got := map[string]PolicyUse{}
	for _, u := range r.Policies {
		got[u.Policy] = u
	}
	fe := got["shop/frontend"]
	// Allowed at egress: 8080 (10), 9090, 9999? no: 9999 is denied by
	// default deny (no rule). 53 (4), 5432 allowed, fqdn allowed.
	if fe.AllowedFlows != 17 || fe.AllowedConnections != 5 || fe.DeniedConnections != 1 {
		t.Errorf("frontend use %+v", fe)
	}
	if un := fe.Unexercised(); strings.Join(un, ",") != "spec.egress[4]" {
		t.Errorf("frontend unexercised rules = %v, want the world:80 rule", un)
	}
	be := got["shop/backend"]
	if strings.Join(be.Unexercised(), ",") != "spec.ingress[2]" || be.AllowedConnections != 2 {
		t.Errorf("backend use %+v", be)
	}
	un := got["unused"]
	if un.Exercised() || len(un.Rules) != 1 || un.Rules[0].Path != "specs[0].ingress[0]" {
		t.Errorf("unused policy %+v", un)
	}
}

// TestProbe checks the least-privilege probe on a graph small enough to
// count by hand.
func TestProbe(t *testing.T) {
	g := irtest.Graph(
		irtest.Workload("shop", "frontend", "app=frontend"),
		irtest.Workload("shop", "backend", "app=backend"),
		irtest.Edge("shop/frontend", "shop/backend", "TCP/8080"),
		irtest.Edge("shop/frontend", "shop/backend", "TCP/22"),
		irtest.Edge("entity:host", "shop/backend", "TCP/8080"),
	)
	const y = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: backend, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress:
  - fromEndpoints: [{}]
    toPorts: [{ports: [{port: "8080", protocol: TCP}, {port: "22", protocol: TCP}]}]
`
	e := newEngine(t, y, g)
	p, err := e.Probe(g, ProbeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Nodes: frontend, backend, host; ports TCP/8080, TCP/22. Pairs with a
	// workload and a non-host source: f->f, f->b, f->h, b->f, b->b, b->h
	// = 6 pairs x 2 ports = 12, minus the 2 observed = 10 candidates.
	// Allowed: frontend has no policy, so f->f (2), f->h (2) and, at
	// egress, b->* with... backend has no egress policy: b->f (2, frontend
	// has no ingress policy), b->h (2), b->b (2, backend's own ingress
	// allows any pod in shop) = 10: everything.
	if p.Candidates != 10 || p.Checked != 10 || p.Allowed != 10 || p.Ratio != 1 || p.Sampled {
		t.Errorf("probe %+v", p)
	}
	if len(p.ByPolicy) == 0 || p.ByPolicy[0].Policy != NoPolicy {
		t.Errorf("by policy %+v", p.ByPolicy)
	}
	// Sampling bounds the work and is deterministic.
	p1, _ := e.Probe(g, ProbeOptions{Max: 3})
	p2, _ := e.Probe(g, ProbeOptions{Max: 3})
	if !p1.Sampled || p1.Checked == 0 || p1.Checked >= 10 || p1.Checked != p2.Checked || p1.Allowed != p2.Allowed {
		t.Errorf("sampled probes %+v %+v", p1, p2)
	}
}

func TestRulePaths(t *testing.T) {
	for _, p := range []string{"spec.egress[2]", "specs[1].ingressDeny[0]", "spec.ingress[10]"} {
		if got := decodePath(encodePath(p)); got != p {
			t.Errorf("decodePath(encodePath(%q)) = %q", p, got)
		}
	}
}

func agentDefaults() agent.Settings { return agent.Defaults() }

// TestPolicyDefaultLocalCluster: a selector without a cluster label
// selects only the local cluster under the agent's default
// (--policy-default-local-cluster=true) and every cluster when it is
// false; a selector with the label selects that cluster under both.
func TestPolicyDefaultLocalCluster(t *testing.T) {
	const bare = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: cache, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: cache}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: worker, k8s:io.kubernetes.pod.namespace: jobs}}]
    toPorts: [{ports: [{port: "6379", protocol: TCP}]}]
`
	labelled := strings.Replace(bare, "app: worker,", "app: worker, k8s:io.cilium.k8s.policy.cluster: poc2,", 1)
	g := irtest.Graph(
		irtest.Workload("shop", "cache", "app=cache", "io.cilium.k8s.policy.cluster=poc1"),
		irtest.Workload("jobs", "worker", "app=worker", "io.cilium.k8s.policy.cluster=poc2"),
		irtest.Workload("jobs", "local-worker", "app=worker", "io.cilium.k8s.policy.cluster=poc1"),
	)
	node := func(name string) *ir.Node {
		for _, n := range g.Nodes {
			if n.Namespace+"/"+n.Name == name {
				return n
			}
		}
		t.Fatalf("no node %s", name)
		return nil
	}
	tests := []struct {
		policy              string
		anyCluster          bool
		remote, localWorker bool // allowed from poc2/worker, poc1/worker
	}{
		{bare, false, false, true},
		{bare, true, true, true},
		{labelled, false, true, false},
		{labelled, true, true, false},
	}
	for i, tt := range tests {
		s := agent.Defaults()
		s.ClusterName, s.PolicyAnyCluster = "poc1", tt.anyCluster
		e, err := New(s)
		if err != nil {
			t.Fatal(err)
		}
		e.EnforceOnly("poc1")
		if err := e.Load(loadPolicies(t, tt.policy)); err != nil {
			t.Fatal(err)
		}
		if err := e.AddGraph(g); err != nil {
			t.Fatal(err)
		}
		for src, want := range map[string]bool{"jobs/worker": tt.remote, "jobs/local-worker": tt.localWorker} {
			v, err := e.Check(node(src), node("shop/cache"), "TCP", 6379)
			if err != nil {
				t.Fatal(err)
			}
			if v.Allowed() != want {
				t.Errorf("case %d (any cluster %v): %s -> poc1 cache allowed %v, want %v", i, tt.anyCluster, src, v.Allowed(), want)
			}
		}
	}
}

// TestProbeClusters: the probe over a ClusterMesh takes each candidate's
// egress verdict from its source's cluster and its ingress verdict from
// its destination's, and names policies with their cluster.
func TestProbeClusters(t *testing.T) {
	byCluster := map[string]string{
		"poc1": `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: cache, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: cache}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: worker, k8s:io.kubernetes.pod.namespace: jobs, k8s:io.cilium.k8s.policy.cluster: poc2}}]
    toPorts: [{ports: [{port: "6379", protocol: TCP}]}]
  egress: [{}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: lw, namespace: jobs}
spec:
  endpointSelector: {matchLabels: {app: worker}}
  egress:
  - toEndpoints: [{matchLabels: {app: worker}}]
    toPorts: [{ports: [{port: "6379", protocol: TCP}]}]
`,
		"poc2": `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: worker, namespace: jobs}
spec:
  endpointSelector: {matchLabels: {app: worker}}
  egress:
  - toEndpoints: [{matchLabels: {app: cache, k8s:io.kubernetes.pod.namespace: shop, k8s:io.cilium.k8s.policy.cluster: poc1}}]
    toPorts: [{ports: [{port: "6379", protocol: TCP}]}]
  ingress: [{}]
`,
	}
	g := irtest.Graph(
		irtest.Workload("shop", "cache", "app=cache", "io.cilium.k8s.policy.cluster=poc1"),
		irtest.Workload("jobs", "worker", "app=worker", "io.cilium.k8s.policy.cluster=poc2"),
		irtest.Workload("jobs", "local-worker", "app=worker", "io.cilium.k8s.policy.cluster=poc1"),
		irtest.Edge("jobs/worker", "shop/cache", "TCP/6379"),
	)
	cs := ClusterSet{Clusters: []string{"poc1", "poc2"}}
	for _, c := range cs.Clusters {
		cs.Policies = append(cs.Policies, loadPolicies(t, byCluster[c]))
	}
	r, rep, err := cs.Run(g, agent.Defaults(), &ProbeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Connections != 1 || r.Allowed != 1 {
		t.Errorf("replay: %d of %d connections allowed", r.Allowed, r.Connections)
	}
	// Of the 8 unobserved pairs only local-worker to itself is allowed:
	// its own egress rule (poc1) allows it, and nothing isolates its
	// ingress. poc2's worker policy does not select it.
	if rep.Checked != 8 || rep.Allowed != 1 {
		t.Fatalf("checked %d, allowed %d: %+v", rep.Checked, rep.Allowed, rep.ByPolicy)
	}
	var got []string
	for _, c := range rep.ByPolicy {
		got = append(got, c.Policy)
		for _, h := range c.Examples {
			if !strings.Contains(h.Src, "local-worker") || !strings.Contains(h.Dst, "local-worker") {
				t.Errorf("allowed %s -> %s", h.Src, h.Dst)
			}
		}
	}
	if fmt.Sprint(got) != "["+NoPolicy+" poc1/jobs/lw]" && fmt.Sprint(got) != "[poc1/jobs/lw "+NoPolicy+"]" {
		t.Errorf("by policy %q", got)
	}
}

// TestProbeSample: the sampled probe counts the same candidates as the
// exhaustive one, checks about Max of them, and its 95% interval holds
// the exhaustive ratio.
func TestProbeSample(t *testing.T) {
	items := []irtest.Item{irtest.Workload("kube-system", "kube-dns", "k8s-app=kube-dns")}
	for _, ns := range []string{"a", "b"} {
		for i := range 30 {
			n := fmt.Sprintf("w%d", i)
			items = append(items, irtest.Workload(ns, n, "app="+n))
		}
	}
	items = append(items,
		irtest.Edge("a/w0", "a/w1", "TCP/8080"), irtest.Edge("b/w0", "a/w2", "TCP/80"),
		irtest.Edge("a/w3", "kube-system/kube-dns", "UDP/53"), irtest.Edge("cidr:203.0.113.7/32", "b/w4", "TCP/443"),
		irtest.Edge("entity:host", "a/w5", "TCP/8080"))
	g := irtest.Graph(items...)
	const pol = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: a, namespace: a}
spec:
  endpointSelector: {}
  ingress:
  - fromEndpoints: [{}]
    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
`
	e := newEngine(t, pol, g)
	full, err := e.Probe(g, ProbeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.Probe(g, ProbeOptions{Max: 2000})
	if err != nil {
		t.Fatal(err)
	}
	// 61 workloads to 63 nodes, the world address to 61 workloads; 4
	// ports; the 4 probed observed combinations (the host's is not).
	if want := int64((61*63+61)*4 - 4); full.Candidates != want || full.Sampled || int64(full.Checked) != want {
		t.Errorf("exhaustive: %d candidates, %d checked, want %d", full.Candidates, full.Checked, want)
	}
	if !s.Sampled || s.Candidates != full.Candidates || s.Checked < 1000 || s.Checked > 2000 {
		t.Errorf("sampled: %d of %d checked", s.Checked, s.Candidates)
	}
	if full.Ratio < s.Low || full.Ratio > s.High || s.Low >= s.High {
		t.Errorf("exhaustive ratio %.4f outside the sample's interval [%.4f, %.4f] (ratio %.4f)", full.Ratio, s.Low, s.High, s.Ratio)
	}
	t.Logf("exhaustive %.4f of %d; sampled %.4f [%.4f, %.4f] of %d", full.Ratio, full.Checked, s.Ratio, s.Low, s.High, s.Checked)
}

// TestReleaseEmptiesTheCaches checks that a released engine leaves
// nothing in Cilium's repository and selector caches: the goroutine the
// selector cache starts keeps the caches (and every rule using a cached
// selector) for the rest of the process.
func TestReleaseEmptiesTheCaches(t *testing.T) {
	g := testGraph()
	e := newEngine(t, policies, g)
	if _, err := e.Replay(g); err != nil {
		t.Fatal(err)
	}
	used := func(sc *policy.SelectorCache) (n int) {
		for _, s := range sc.GetModel() {
			n += int(s.Users)
		}
		return n
	}
	rules, _ := e.repo.Search()
	// The rules are the subject selectors' users (peer selectors have
	// users only while an identity's policy is computed).
	if len(rules) == 0 || used(e.repo.GetSubjectSelectorCache()) == 0 {
		t.Fatalf("before Release: %d rules, %d subject selector users; want some", len(rules), used(e.repo.GetSubjectSelectorCache()))
	}
	e.Release()
	rules, _ = e.repo.Search()
	if len(rules) != 0 || used(e.repo.GetSelectorCache()) != 0 || used(e.repo.GetSubjectSelectorCache()) != 0 {
		t.Errorf("after Release: %d rules, %d peer and %d subject selector users; want none", len(rules), used(e.repo.GetSelectorCache()), used(e.repo.GetSubjectSelectorCache()))
	}
	if len(e.Policies()) != 0 || len(e.cache) != 0 || len(e.ids) != 0 {
		t.Errorf("after Release: %d policies, %d distilled, %d identities left", len(e.Policies()), len(e.cache), len(e.ids))
	}
}
