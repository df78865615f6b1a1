package compiler_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/internal/flowgen"
	"github.com/policypilot/ppc/ir"
)

// TestGroundTruth compiles a capture written the way Hubble writes each
// connection (both nodes' observation points, is_reply absent at
// TO_OVERLAY/TO_STACK, drops at the destination after a FORWARDED at the
// source, many internet clients) and judges the policies against what
// really happened, with Cilium's engine: every real pair allowed, every
// attempt the cluster dropped denied, a new internet client allowed to
// the public service, no rule for an ephemeral port, every workload
// isolated.
func TestGroundTruth(t *testing.T) {
	f := filepath.Join(t.TempDir(), "shop.json")
	out, err := os.Create(f)
	if err != nil {
		t.Fatal(err)
	}
	conns := 3000
	if v := os.Getenv("PPC_TRUTH_CONNS"); v != "" { // PPC_TRUTH_CONNS=26000: ~100k records
		if conns, err = strconv.Atoi(v); err != nil {
			t.Fatalf("PPC_TRUTH_CONNS: %v", err)
		}
	}
	truth, err := flowgen.Scenario(out, conns, 7)
	out.Close()
	if err != nil {
		t.Fatal(err)
	}
	res := compile(t, []string{f}, compiler.Options{})
	checkTruth(t, res, truth)
}

// TestGroundTruthInRounds: learn --follow and compile --follow learn in
// rounds and merge them (compiler.Follow); a connection whose records fall
// in two rounds is lowered in two parts. Cut the same capture into four
// rounds at arbitrary records and hold the merged result to the same
// ground truth.
func TestGroundTruthInRounds(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "shop.json")
	out, err := os.Create(f)
	if err != nil {
		t.Fatal(err)
	}
	truth, err := flowgen.Scenario(out, 3000, 7)
	out.Close()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	acc := ir.New()
	const rounds = 4
	for i := range rounds {
		part := filepath.Join(dir, fmt.Sprintf("round-%d.json", i))
		chunk := lines[i*len(lines)/rounds : (i+1)*len(lines)/rounds]
		if err := os.WriteFile(part, []byte(strings.Join(chunk, "")), 0o644); err != nil {
			t.Fatal(err)
		}
		g, _, _, err := compiler.Learn(context.Background(), []string{part}, compiler.LearnOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := acc.Merge(g); err != nil {
			t.Fatal(err)
		}
	}
	checkTruth(t, compile(t, nil, compiler.Options{Graph: acc}), truth)
}

// checkTruth holds a compile of the scenario to its ground truth.
func checkTruth(t *testing.T, res *compiler.Result, truth flowgen.Truth) {
	t.Helper()
	if res.Diagnostics.HasErrors() {
		t.Fatalf("diagnostics:\n%v", res.Diagnostics)
	}
	g := res.Graph
	if n := g.Stats.Skipped["forwarded here, dropped by policy elsewhere (the connection was denied)"]; n == 0 {
		t.Errorf("no record counted as dropped elsewhere: %v", g.Stats.Skipped)
	}
	for _, e := range g.Edges {
		stated := false
		for _, c := range e.Direction {
			stated = stated || ir.Stated(c.Key)
		}
		if e.Port >= 32768 && e.Port <= 60999 && !stated {
			t.Errorf("edge on an ephemeral port without evidence that anything listens there: %s", e.ID)
		}
		// Servers that never open connections: an edge from one is a
		// reply read as a request.
		for _, server := range []string{"wl:shop/redis-cart#", "wl:kube-system/kube-dns#"} {
			if strings.HasPrefix(e.Src, server) {
				t.Errorf("reply read as a connection: %s", e.ID)
			}
		}
	}
	for _, p := range writtenCNPs(t, res) {
		if len(p.Spec.Ingress) == 0 || len(p.Spec.Egress) == 0 {
			t.Errorf("%s/%s is not isolated in both directions", p.Namespace, p.Name)
		}
	}
	eng := meshFor(t, res)
	byName := map[string]*ir.Node{}
	for _, n := range g.Nodes {
		if n.Kind == ir.KindWorkload {
			byName[n.Namespace+"/"+n.Name] = n
		}
	}
	// Workloads only seen trying (the attacker) are not in the graph:
	// build them as the agent would. "cluster/namespace/app" names a
	// workload of the second cluster.
	node := func(name string) *ir.Node {
		if parts := strings.Split(name, "/"); len(parts) == 3 {
			name = parts[1] + "/" + parts[2]
		}
		if n := byName[name]; n != nil {
			return n
		}
		ns, app, _ := strings.Cut(name, "/")
		labels := []string{"k8s:app=" + app, "k8s:io.cilium.k8s.policy.cluster=shop-prod", "k8s:io.kubernetes.pod.namespace=" + ns}
		return &ir.Node{ID: ir.WorkloadID(ns, app, labels), Kind: ir.KindWorkload, Namespace: ns, Name: app, Labels: labels}
	}
	check := func(p flowgen.Pair, src *ir.Node) replay.Verdict {
		t.Helper()
		v, err := eng.Check(src, node(p.Dst), "TCP", uint16(p.Port))
		if p.Port == 53 {
			v, err = eng.Check(src, node(p.Dst), "UDP", 53)
		}
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, p := range truth.Allowed {
		if v := check(p, node(p.Src)); !v.Allowed() {
			t.Errorf("legitimate %s -> %s:%d denied: %+v", p.Src, p.Dst, p.Port, v)
		}
	}
	for _, p := range truth.Denied {
		if v := check(p, node(p.Src)); v.Allowed() {
			t.Errorf("dropped attempt %s -> %s:%d allowed: %+v", p.Src, p.Dst, p.Port, v)
		}
	}
	if truth.WorldClients < 20 {
		t.Fatalf("only %d internet clients", truth.WorldClients)
	}
	// An internet client never seen reaches the public service.
	a := netip.MustParseAddr("203.0.113.99")
	newClient := &ir.Node{ID: ir.CIDRID(netip.PrefixFrom(a, 32).String()), Kind: ir.KindCIDR, CIDR: netip.PrefixFrom(a, 32).String()}
	if v := check(truth.Public, newClient); !v.Allowed() {
		t.Errorf("a new internet client is denied the public service: %+v", v)
	}
	// The gateway reached by address: every address seen is allowed, one
	// outside the prefix they were folded into is not.
	ext := truth.External
	if len(ext.Addrs) < 2 {
		t.Fatalf("external addresses %v", ext.Addrs)
	}
	for _, ip := range append(append([]string{}, ext.Addrs...), ext.Far) {
		a := netip.MustParseAddr(ip)
		dst := &ir.Node{ID: ir.CIDRID(netip.PrefixFrom(a, 32).String()), Kind: ir.KindCIDR, CIDR: netip.PrefixFrom(a, 32).String()}
		v, err := eng.Check(node(ext.Src), dst, "TCP", uint16(ext.Port))
		if err != nil {
			t.Fatal(err)
		}
		if v.Allowed() != (ip != ext.Far) {
			t.Errorf("%s -> %s:%d: allowed %v (%+v)", ext.Src, ip, ext.Port, v.Allowed(), v)
		}
	}
	// The partner API resolved through the DNS proxy: allowed by name.
	nm := truth.Named
	fq := &ir.Node{ID: ir.FQDNID(nm.Name), Kind: ir.KindFQDN, FQDN: nm.Name}
	if v, err := eng.Check(node(nm.Src), fq, "TCP", uint16(nm.Port)); err != nil || !v.Allowed() {
		t.Errorf("%s -> %s:%d denied (%v): %+v", nm.Src, nm.Name, nm.Port, err, v)
	}
	if len(truth.Clusters) != 2 || len(replay.Clusters(g)) != 2 {
		t.Errorf("clusters: truth %v, graph %v", truth.Clusters, replay.Clusters(g))
	}
	folded := false
	for _, w := range res.Decisions.Warnings {
		folded = folded || strings.Contains(w.Msg, "reaches on TCP/443 are allowed as 203.0.113.8/29")
	}
	if !folded {
		t.Errorf("the gateway's addresses were not folded: %v", res.Decisions.Warnings)
	}
	// The compile's probe: nothing is left open by a missing section, and
	// little is over-allowed.
	pr := res.Replay.Probe
	if pr == nil {
		t.Fatal("no probe")
	}
	for _, c := range pr.ByPolicy {
		if strings.Contains(c.Policy, "not isolated") {
			t.Errorf("probe: %d unobserved connections allowed because an endpoint is not isolated", c.Allowed)
		}
	}
	t.Logf("%d records: over-allow %d of %d (%.2f%%), by %v; direction %v; skipped %v", g.Stats.Records, pr.Allowed, pr.Checked, 100*pr.Ratio, pr.ByPolicy, g.Stats.Direction, g.Stats.Skipped)
}

// meshFor loads a compile's policies as each cluster's agents would.
func meshFor(t *testing.T, res *compiler.Result) *replay.Mesh {
	t.Helper()
	cs := res.ClusterSet()
	m, err := cs.Load(res.Graph, res.Agent)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
