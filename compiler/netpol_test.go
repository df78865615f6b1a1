package compiler_test

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/compiler/synth"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/ir/irtest"
)

// netpols: Kubernetes NetworkPolicies for a shop: api accepts web on 8080
// and the monitoring namespace on 9090; db is isolated both ways except
// from api. Their labels carry no namespace label (flows often do not):
// namespaceSelector on kubernetes.io/metadata.name must still select.
const netpols = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 8080}]
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}]
    ports: [{port: 9090, protocol: TCP}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: api}}}]
    ports: [{port: 5432}]
`

// TestNetworkPolicyReplay: NetworkPolicies are verified (strict decoding,
// the API server's checks, Cilium's translation) and replayed through
// Cilium's engine as the agent translates them (pkg/k8s
// ParseNetworkPolicy), with verdicts per rule path.
func TestNetworkPolicyReplay(t *testing.T) {
	g := irtest.Graph(
		irtest.Workload("shop", "web", "app=web"), irtest.Workload("shop", "api", "app=api"), irtest.Workload("shop", "db", "app=db"),
		irtest.Workload("monitoring", "prom", "app=prom"),
		irtest.Edge("shop/web", "shop/api", "TCP/8080"),
		irtest.Edge("monitoring/prom", "shop/api", "TCP/9090"),
		irtest.Edge("shop/web", "shop/api", "TCP/9090"),
		irtest.Edge("shop/api", "shop/db", "TCP/5432"),
		irtest.Edge("shop/db", "shop/api", "TCP/8080"),
	)
	objs, ds := manifest.Parse("np.yaml", []byte(netpols))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	pr, err := compiler.ReplayPolicies(context.Background(), nil, g, objs, "default", agent.Defaults(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.Invalid) != 0 || pr.Loaded != 2 {
		t.Fatalf("invalid %v, loaded %d", pr.Invalid, pr.Loaded)
	}
	got := map[string]string{}
	for _, x := range pr.Report.Results {
		v := "denied"
		if x.Verdict.Allowed() {
			v = "allowed by"
			for _, pt := range []replay.Point{x.Verdict.Egress, x.Verdict.Ingress} {
				for _, r := range pt.By() {
					v += " " + r.Policy + " " + r.Path
				}
			}
		}
		got[g.DisplayNames()[x.Edge.Src]+" -> "+g.DisplayNames()[x.Edge.Dst]+" "+x.Edge.Protocol+"/"+strconv.Itoa(int(x.Edge.Port))] = v
	}
	want := map[string]string{
		"shop/web -> shop/api TCP/8080":        "allowed by shop/api spec.ingress[0].from[0]",
		"monitoring/prom -> shop/api TCP/9090": "allowed by shop/api spec.ingress[1].from[0]",
		"shop/web -> shop/api TCP/9090":        "denied",
		"shop/api -> shop/db TCP/5432":         "allowed by shop/db spec.ingress[0].from[0]",
		"shop/db -> shop/api TCP/8080":         "denied", // db's egress is isolated (policyTypes Egress, no rule)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %s, want %s", k, got[k], w)
		}
	}
}

// TestNetworkPolicyVerify: what kubectl apply refuses is a schema error
// with its path; the valid set passes.
func TestNetworkPolicyVerify(t *testing.T) {
	bad := `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/8, except: [192.168.0.0/16]}, podSelector: {}}]
    ports: [{port: 9000, endPort: 8000}, {port: 70000}, {protocol: ICMP, port: 1}]
  egress:
  - to: [{}]
  bogus: 1
`
	objs, ds := manifest.Parse("np.yaml", []byte(bad+"---\n"+netpols))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	v, err := compiler.ReplayPolicies(context.Background(), nil, ir.New(), objs, "default", agent.Defaults(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Verified) != 3 || len(v.Invalid) != 1 {
		t.Fatalf("verified %d, invalid %d", len(v.Verified), len(v.Invalid))
	}
	var msgs []string
	for _, d := range v.Invalid[0].Diagnostics {
		msgs = append(msgs, ir.JoinPath(d.Path)+": "+d.Msg)
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{
		`unknown field "spec.bogus"`,
		"spec.ingress[0].from[0]: Forbidden: may not specify both ipBlock and another peer",
		"spec.ingress[0].from[0].ipBlock.except[0]",
		"spec.ingress[0].ports[0].endPort",
		"spec.ingress[0].ports[1].port",
		"spec.ingress[0].ports[2].protocol",
		"spec.egress[0].to[0]: Required value: must specify a peer",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q among:\n%s", want, all)
		}
	}
}

// TestTargetKubernetesSamples: on every real sample, --target kubernetes
// writes only NetworkPolicies that pass strict decoding, the API server's
// checks and Cilium's translation, and Cilium's engine, loaded with them
// as the agent translates them, allows every observed connection the
// rule packs did not exclude. With --target auto, what is written as a
// NetworkPolicy was not widened.
func TestTargetKubernetesSamples(t *testing.T) {
	for _, f := range realSamples(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			res := compile(t, []string{f}, compiler.Options{Target: synth.TargetKubernetes, NoProbe: true})
			if res.Diagnostics.HasErrors() {
				t.Fatalf("diagnostics:\n%v", res.Diagnostics)
			}
			for _, d := range res.Docs {
				if d.Kind != "NetworkPolicy" || d.APIVersion != "networking.k8s.io/v1" {
					t.Errorf("%s is a %s %s", d.Path(), d.APIVersion, d.Kind)
				}
			}
			if r := res.Replay; r.Allowed+r.Excluded != r.Connections {
				t.Errorf("replay allows %d of %d connections (%d excluded)", r.Allowed, r.Connections, r.Excluded)
			}
			auto := compile(t, []string{f}, compiler.Options{Target: synth.TargetAuto, NoProbe: true})
			if auto.Diagnostics.HasErrors() {
				t.Fatalf("auto diagnostics:\n%v", auto.Diagnostics)
			}
			for _, d := range auto.Diagnostics {
				if d.Code == "ppc_target_widened" {
					t.Errorf("auto widened: %v", d)
				}
			}
		})
	}
}

// TestDNSBaselineClusterwide: with dns.baseline=clusterwide (and
// node_peers=clusterwide, for what the nodes reach) the DNS rule
// is written once, as a CiliumClusterwideNetworkPolicy for every endpoint
// that isolates nothing by itself, and no policy repeats it; on every real
// sample the set verifies and Cilium's engine allows every observed
// connection (the DNS lookups through the baseline).
func TestDNSBaselineClusterwide(t *testing.T) {
	for _, f := range realSamples(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			res := compile(t, []string{f}, compiler.Options{Set: []string{"dns.baseline=clusterwide", "node_peers=clusterwide"}, NoProbe: true})
			if res.Diagnostics.HasErrors() {
				t.Fatalf("diagnostics:\n%v", res.Diagnostics)
			}
			clusterwide := 0
			for _, d := range res.Docs {
				switch {
				case d.Kind == "CiliumClusterwideNetworkPolicy" && d.Name == "node-baseline":
					if strings.Contains(string(d.JSON), `"egress":[`) || !strings.Contains(string(d.JSON), `"enableDefaultDeny":{"egress":false,"ingress":false}`) {
						t.Errorf("node baseline: %s", d.JSON)
					}
				case strings.Contains(string(d.JSON), `"fromEntities":["host"]`) || strings.Contains(string(d.JSON), `"fromEntities":["remote-node"]`):
					t.Errorf("%s repeats a node rule", d.Path())
				case d.Kind == "CiliumClusterwideNetworkPolicy":
					clusterwide++
					if d.Path() != "_clusterwide/dns-baseline.yaml" || !strings.Contains(string(d.JSON), `"enableDefaultDeny":{"egress":false,"ingress":false}`) {
						t.Errorf("baseline %s: %s", d.Path(), d.JSON)
					}
				case strings.Contains(string(d.JSON), `"dns":[`):
					t.Errorf("%s repeats the DNS rule", d.Path())
				}
			}
			if clusterwide != 1 {
				t.Errorf("%d clusterwide policies", clusterwide)
			}
			if r := res.Replay; r.Allowed+r.Excluded != r.Connections {
				t.Errorf("replay allows %d of %d connections (%d excluded)", r.Allowed, r.Connections, r.Excluded)
			}
		})
	}
}
