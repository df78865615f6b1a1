package rules_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/ir/irtest"
	"github.com/policypilot/ppc/rules"
	"github.com/policypilot/ppc/schemas"
)

func decide(t *testing.T, g *ir.Graph, opts rules.Options) *rules.Decisions {
	t.Helper()
	e, err := rules.NewEngine(context.Background(), opts)
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	d, err := e.Decide(context.Background(), g)
	if err != nil {
		t.Fatalf("Decide: %v", err)
	}
	return d
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func rulesJSON(rs []json.RawMessage) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, string(r))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func TestDefaultPack(t *testing.T) {
	dns := irtest.Workload("kube-system", "coredns", "k8s-app=kube-dns", "pod-template-hash=5d78c9869d")
	tests := []struct {
		name  string
		g     *ir.Graph
		check func(t *testing.T, d *rules.Decisions)
	}{
		{"selector prefers app.kubernetes.io/name and drops volatile labels", irtest.Graph(
			irtest.Workload("shop", "api", "app.kubernetes.io/name=api", "app=legacy", "pod-template-hash=7d9f", "version=v1"),
			irtest.Workload("shop", "web", "team=blue", "pod-template-hash=aa", "controller-revision-hash=bb", "statefulset.kubernetes.io/pod-name=web-0", "tier=front"),
			irtest.Edge("shop/web", "shop/api", "TCP/8080"),
		), func(t *testing.T, d *rules.Decisions) {
			p := d.Policies["shop/api"]
			if p == nil || js(p.Selector) != `{"app.kubernetes.io/name":"api"}` {
				t.Fatalf("api policy %s", js(p))
			}
			w := d.Policies["shop/blue"]
			if w != nil {
				t.Fatalf("unexpected %s", js(w))
			}
			// No preferred key: every stable label.
			want := `[{"fromEndpoints":[{"matchLabels":{"team":"blue","tier":"front"}}],"toPorts":[{"ports":[{"port":"8080","protocol":"TCP"}]}]}]`
			if got := rulesJSON(p.Ingress); got != want {
				t.Errorf("ingress\n got %s\nwant %s", got, want)
			}
		}},
		{"versions share one policy", irtest.Graph(
			irtest.Workload("shop", "reviews", "app=reviews", "version=v1"),
			irtest.Workload("shop", "reviews2", "app=reviews", "version=v2"),
			irtest.Workload("shop", "web", "app=web"),
			irtest.Edge("shop/web", "shop/reviews", "TCP/9080"),
			irtest.Edge("shop/web", "shop/reviews2", "TCP/9080"),
		), func(t *testing.T, d *rules.Decisions) {
			p := d.Policies["shop/reviews"]
			if p == nil || len(p.Subjects) != 2 || len(p.IngressEdges) != 2 || len(p.Ingress) != 1 {
				t.Fatalf("reviews policy %s", js(p))
			}
		}},
		{"egress is complete, with DNS, and cross-namespace peers name their namespace", irtest.Graph(
			dns,
			irtest.Workload("shop", "web", "app=web"),
			irtest.Workload("pay", "billing", "app=billing"),
			irtest.Edge("shop/web", "kube-system/coredns", "UDP/53"),
			irtest.Edge("shop/web", "pay/billing", "TCP/443"),
			irtest.Edge("shop/web", "fqdn:api.stripe.com", "TCP/443"),
			irtest.Edge("shop/web", "cidr:203.0.113.7/32", "TCP/5432"),
			irtest.Edge("shop/web", "entity:kube-apiserver+host", "TCP/6443"),
		), func(t *testing.T, d *rules.Decisions) {
			p := d.Policies["shop/web"]
			if p == nil {
				t.Fatal("no web policy")
			}
			got := rulesJSON(p.Egress)
			for _, want := range []string{
				`{"toEndpoints":[{"matchLabels":{"k8s:io.kubernetes.pod.namespace":"kube-system","k8s:k8s-app":"kube-dns"}}],"toPorts":[{"ports":[{"port":"53","protocol":"TCP"},{"port":"53","protocol":"UDP"}],"rules":{"dns":[{"matchPattern":"*"}]}}]}`,
				`{"toEndpoints":[{"matchLabels":{"app":"billing","k8s:io.kubernetes.pod.namespace":"pay"}}]`,
				`{"toFQDNs":[{"matchName":"api.stripe.com"}]`,
				`{"toCIDR":["203.0.113.7/32"]`,
				`{"toEntities":["kube-apiserver"]`,
			} {
				if !strings.Contains(got, want) {
					t.Errorf("egress lacks %s\n%s", want, got)
				}
			}
			if len(p.EgressEdges) != 5 {
				t.Errorf("egress covers %d edges, want 5", len(p.EgressEdges))
			}
			// The DNS server stays reachable by every cluster endpoint on
			// its DNS ports: no capture shows all its clients.
			k := d.Policies["kube-system/kube-dns"]
			if k == nil || !strings.HasPrefix(rulesJSON(k.Ingress), `[{"fromEntities":["cluster"],"toPorts":[{"ports":[{"port":"53","protocol":"TCP"},{"port":"53","protocol":"UDP"}]}]}`) {
				t.Errorf("kube-dns policy %s", js(k))
			}
		}},
		{"DNS rule even when no DNS flow was captured", irtest.Graph(
			irtest.Workload("shop", "web", "app=web"),
			irtest.Edge("shop/web", "fqdn:api.stripe.com", "TCP/443"),
		), func(t *testing.T, d *rules.Decisions) {
			if got := rulesJSON(d.Policies["shop/web"].Egress); !strings.Contains(got, `"rules":{"dns"`) {
				t.Errorf("no DNS rule: %s", got)
			}
		}},
		{"ports merged, sorted numerically, split at 40; peers with equal ports share a rule", irtest.Graph(func() []irtest.Item {
			items := []irtest.Item{irtest.Workload("mon", "prom", "app=prom"), irtest.Workload("mon", "node", "app=node"), irtest.Workload("mon", "api", "app=api")}
			for p := 45; p >= 1; p-- {
				items = append(items, irtest.Edge("mon/prom", "mon/node", fmt.Sprintf("TCP/%d", 9000+p)))
			}
			items = append(items, irtest.Edge("mon/prom", "mon/node", "UDP/9001"))
			return items
		}()...), func(t *testing.T, d *rules.Decisions) {
			var r []struct {
				ToPorts []struct{ Ports []map[string]string } `json:"toPorts"`
			}
			json.Unmarshal([]byte(rulesJSON(d.Policies["mon/node"].Ingress)), &r)
			if len(r) != 1 || len(r[0].ToPorts) != 2 || len(r[0].ToPorts[0].Ports) != 40 || len(r[0].ToPorts[1].Ports) != 6 {
				t.Fatalf("chunks: %s", rulesJSON(d.Policies["mon/node"].Ingress))
			}
			first := r[0].ToPorts[0].Ports
			if first[0]["port"] != "9001" || first[0]["protocol"] != "TCP" || first[1]["port"] != "9001" || first[1]["protocol"] != "UDP" || first[2]["port"] != "9002" {
				t.Errorf("order: %v", first[:3])
			}
		}},
		{"icmp gets its own rule", irtest.Graph(
			irtest.Workload("shop", "web", "app=web"), irtest.Workload("shop", "api", "app=api"),
			irtest.Edge("shop/web", "shop/api", "TCP/80"),
			irtest.Edge("shop/web", "shop/api", "ICMPv4/8"),
		), func(t *testing.T, d *rules.Decisions) {
			want := `[{"fromEndpoints":[{"matchLabels":{"app":"web"}}],"toPorts":[{"ports":[{"port":"80","protocol":"TCP"}]}]},{"fromEndpoints":[{"matchLabels":{"app":"web"}}],"icmps":[{"fields":[{"family":"IPv4","type":8}]}]}]`
			if got := rulesJSON(d.Policies["shop/api"].Ingress); got != want {
				t.Errorf("got %s", got)
			}
		}},
		{"unselectable peer: that connection left denied, the section written (fail closed)", func() *ir.Graph {
			g := irtest.Graph(irtest.Workload("shop", "web", "app=web"), irtest.Workload("shop", "api", "app=api"),
				irtest.Edge("shop/web", "shop/api", "TCP/80"))
			masked := &ir.Node{ID: ir.WorkloadID("shop", "ghost", nil), Kind: ir.KindWorkload, Namespace: "shop", Name: "ghost"}
			g.AddNode(masked)
			var web string
			for id, n := range g.Nodes {
				if n.Name == "web" {
					web = id
				}
			}
			g.Observe(ir.Observation{Src: web, Dst: masked.ID, Protocol: "TCP", Port: 81, Verdict: "FORWARDED"})
			return g
		}(), func(t *testing.T, d *rules.Decisions) {
			p := d.Policies["shop/web"]
			if p == nil || len(p.EgressEdges) != 1 || !strings.Contains(rulesJSON(p.Egress), `"port":"80"`) || strings.Contains(rulesJSON(p.Egress), `"port":"81"`) {
				t.Errorf("egress section: %s", js(p))
			}
			if len(d.Excluded) != 1 {
				t.Errorf("excluded = %v", d.Excluded)
			}
			if len(d.Warnings) != 2 {
				t.Errorf("warnings = %s", js(d.Warnings))
			}
			if d.Policies["shop/api"] == nil {
				t.Error("unrelated policy lost")
			}
		}},
		{"unnamed egress addresses on one port folded into the smallest covering prefix, within /24", irtest.Graph(
			irtest.Workload("shop", "api", "app=api"),
			irtest.Edge("shop/api", "cidr:203.0.113.9/32", "TCP/443"),
			irtest.Edge("shop/api", "cidr:203.0.113.14/32", "TCP/443"),
			irtest.Edge("shop/api", "cidr:203.0.113.12/32", "TCP/443"),
			irtest.Edge("shop/api", "cidr:203.0.113.12/32", "TCP/5432"), // alone on its port: stays /32
			irtest.Edge("shop/api", "cidr:198.51.100.7/32", "TCP/443"),  // alone in its /24
			irtest.Edge("shop/api", "cidr:2001:db8::1/128", "TCP/443"),
			irtest.Edge("shop/api", "cidr:2001:db8::ff/128", "TCP/443"),
			irtest.Edge("shop/api", "cidr:2001:db8:1::1/128", "TCP/443"), // another /64
			irtest.Edge("shop/api", "cidr:192.0.2.0/25", "TCP/443"),      // a prefix from Hubble's cidr label stays
			irtest.Edge("shop/api", "fqdn:api.stripe.com", "TCP/443"),
		), func(t *testing.T, d *rules.Decisions) {
			got := rulesJSON(d.Policies["shop/api"].Egress)
			for _, want := range []string{
				`{"toCIDR":["192.0.2.0/25","198.51.100.7/32","2001:db8:1::1/128","2001:db8::/120","203.0.113.8/29"],"toPorts":[{"ports":[{"port":"443","protocol":"TCP"}]}]}`,
				`{"toCIDR":["203.0.113.12/32"],"toPorts":[{"ports":[{"port":"5432","protocol":"TCP"}]}]}`,
				`{"toFQDNs":[{"matchName":"api.stripe.com"}]`,
			} {
				if !strings.Contains(got, want) {
					t.Errorf("egress lacks %s\n%s", want, got)
				}
			}
			var folds []string
			for _, w := range d.Warnings {
				if strings.Contains(w.Msg, "smallest prefix covering them") {
					folds = append(folds, w.Msg)
				}
			}
			if len(folds) != 2 || !strings.Contains(strings.Join(folds, "\n"), "3 addresses without a DNS name that shop/api reaches on TCP/443 are allowed as 203.0.113.8/29") {
				t.Errorf("fold warnings %q", folds)
			}
			off := decide(t, irtest.Graph(
				irtest.Workload("shop", "api", "app=api"),
				irtest.Edge("shop/api", "cidr:203.0.113.9/32", "TCP/443"),
				irtest.Edge("shop/api", "cidr:203.0.113.14/32", "TCP/443"),
			), rules.Options{Set: []string{"world_egress.fold.ipv4=0"}})
			if got := rulesJSON(off.Policies["shop/api"].Egress); !strings.Contains(got, `"toCIDR":["203.0.113.14/32","203.0.113.9/32"]`) {
				t.Errorf("fold off: %s", got)
			}
		}},
		{"names that differ only by case or _/- get distinct policy names", irtest.Graph(
			irtest.Workload("shop", "Web", "app=Web"), irtest.Workload("shop", "web", "app=web"),
			irtest.Workload("shop", "a_b", "app=a_b"), irtest.Workload("shop", "a-b", "app=a-b"),
			irtest.Workload("shop", "api", "app=api"),
			irtest.Edge("shop/Web", "shop/api", "TCP/80"), irtest.Edge("shop/web", "shop/api", "TCP/80"),
			irtest.Edge("shop/a_b", "shop/api", "TCP/80"), irtest.Edge("shop/a-b", "shop/api", "TCP/80"),
		), func(t *testing.T, d *rules.Decisions) {
			var names []string
			for k := range d.Policies {
				names = append(names, k)
			}
			sort.Strings(names)
			if len(names) != 5 || d.Policies["shop/api"] == nil {
				t.Fatalf("policies %q", names)
			}
			for _, n := range names {
				if n != "shop/api" && !regexp.MustCompile(`^shop/(web|a-b)-[0-9a-f]{8}$`).MatchString(n) {
					t.Errorf("policy name %q", n)
				}
			}
		}},
		{"an empty label value (valid in Kubernetes) still gives a named policy", irtest.Graph(
			irtest.Workload("shop", "blank", "app="), irtest.Workload("shop", "api", "app=api"),
			irtest.Edge("shop/blank", "shop/api", "TCP/80"),
		), func(t *testing.T, d *rules.Decisions) {
			var blank *rules.PolicyDecision
			for _, p := range d.Policies {
				if p.Selector["app"] == "" && len(p.Selector) == 1 {
					blank = p
				}
			}
			if blank == nil || blank.Name == "" || blank.Namespace != "shop" {
				t.Fatalf("policies %s", js(d.Policies))
			}
		}},
		{"a DNS name that is not a valid toFQDNs name leaves that connection denied, the section written", irtest.Graph(
			irtest.Workload("shop", "api", "app=api"),
			irtest.Edge("shop/api", "fqdn:bad name!.example", "TCP/443"),
			irtest.Edge("shop/api", "fqdn:api.stripe.com", "TCP/443"),
		), func(t *testing.T, d *rules.Decisions) {
			p := d.Policies["shop/api"]
			got := rulesJSON(p.Egress)
			if p == nil || !strings.Contains(got, `"matchName":"api.stripe.com"`) || strings.Contains(got, "bad name") || len(p.EgressEdges) != 1 {
				t.Errorf("egress %s", got)
			}
			if len(d.Excluded) != 1 {
				t.Errorf("excluded %v", d.Excluded)
			}
		}},
		{"world ingress as CIDR; host as entity", irtest.Graph(
			irtest.Workload("shop", "api", "app=api"),
			irtest.Edge("cidr:198.51.100.0/24", "shop/api", "TCP/443"),
			irtest.Edge("entity:host", "shop/api", "TCP/8080"),
		), func(t *testing.T, d *rules.Decisions) {
			got := rulesJSON(d.Policies["shop/api"].Ingress)
			if !strings.Contains(got, `{"fromCIDR":["198.51.100.0/24"]`) || !strings.Contains(got, `{"fromEntities":["host"]`) {
				t.Errorf("got %s", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, decide(t, tt.g, rules.Options{}))
		})
	}
}

func webAPI() *ir.Graph {
	return irtest.Graph(
		irtest.Workload("shop", "web", "app=web", "team=blue"), irtest.Workload("shop", "api", "app=api"),
		irtest.Workload("monitoring", "prom", "app=prom", "team=sre"),
		irtest.Edge("shop/web", "shop/api", "TCP/8080"),
		irtest.Edge("monitoring/prom", "shop/api", "TCP/9090"),
		irtest.Edge("shop/web", "monitoring/prom", "TCP/9091"),
		irtest.Edge("shop/api", "cidr:203.0.113.7/32", "TCP/443"),
	)
}

func TestDNSIngressOptIn(t *testing.T) {
	g := irtest.Graph(
		irtest.Workload("kube-system", "coredns", "k8s-app=kube-dns"), irtest.Workload("shop", "web", "app=web"),
		irtest.Edge("shop/web", "kube-system/coredns", "UDP/53"),
	)
	d := decide(t, g, rules.Options{Set: []string{"dns.ingress=true"}})
	k := d.Policies["kube-system/kube-dns"]
	if k == nil || !strings.Contains(rulesJSON(k.Ingress), `"app":"web","k8s:io.kubernetes.pod.namespace":"shop"`) {
		t.Errorf("kube-dns policy %s", js(k))
	}
}

func TestSettingsLayering(t *testing.T) {
	d := decide(t, webAPI(), rules.Options{Set: []string{"world_peers=entity", "policy_name_prefix=gen-", `dns.always=false`}})
	p := d.Policies["shop/gen-api"]
	if p == nil {
		t.Fatalf("prefix not applied: %v", js(d.Policies))
	}
	if got := rulesJSON(p.Egress); got != `[{"toEntities":["world"],"toPorts":[{"ports":[{"port":"443","protocol":"TCP"}]}]}]` {
		t.Errorf("world_peers=entity / dns.always=false not applied: %s", got)
	}
}

func loadPack(t *testing.T, dir string) *rules.Pack {
	t.Helper()
	p, err := rules.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOrgPacks(t *testing.T) {
	strict := loadPack(t, filepath.Join("..", "testdata", "rules", "org-strict"))
	exclude := loadPack(t, filepath.Join("..", "testdata", "rules", "org-exclude-ingress"))

	d := decide(t, webAPI(), rules.Options{Packs: []*rules.Pack{strict}})
	if p := d.Policies["shop/ppc-web"]; p == nil || p.Selector["team"] != "blue" || p.Labels["policypilot.io/reviewed-by"] != "platform-team" {
		t.Errorf("strict pack settings/hooks not applied: %s", js(d.Policies))
	}
	if len(d.Deny) != 1 || d.Deny[0].Policy != "shop/ppc-api" {
		t.Errorf("deny = %s, want api (no team label)", js(d.Deny))
	}

	d = decide(t, webAPI(), rules.Options{Packs: []*rules.Pack{exclude}})
	if p := d.Policies["monitoring/prom"]; p == nil || len(p.Ingress) != 0 || len(p.Egress) == 0 {
		t.Errorf("monitoring ingress not excluded: %s", js(p))
	}
	if p := d.Policies["shop/api"]; p == nil || len(p.Ingress) != 2 {
		t.Errorf("shop ingress changed: %s", js(p))
	}

	// Both packs compose.
	d = decide(t, webAPI(), rules.Options{Packs: []*rules.Pack{strict, exclude}})
	if p := d.Policies["monitoring/ppc-prom"]; p == nil || len(p.Ingress) != 0 || p.Selector["team"] != "sre" {
		t.Errorf("packs do not compose: %s", js(p))
	}
}

func writePack(t *testing.T, files map[string]string) *rules.Pack {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return loadPack(t, dir)
}

func TestStageReplacement(t *testing.T) {
	// An org replaces the identity stage: selectors are the team label only.
	src, err := os.ReadFile(filepath.Join("packs", "default", "identity.rego"))
	if err != nil {
		t.Fatal(err)
	}
	replaced := strings.Replace(string(src), "sel := object.union(base(labels), extra(id, labels))", `sel := {"team": labels.team}`, 1)
	if replaced == string(src) {
		t.Fatal("fixture: selector line not found")
	}
	p := writePack(t, map[string]string{"identity.rego": replaced})
	g := irtest.Graph(irtest.Workload("shop", "web", "app=web", "team=blue"), irtest.Workload("shop", "api", "app=api", "team=red"),
		irtest.Edge("shop/web", "shop/api", "TCP/80"))
	d := decide(t, g, rules.Options{Packs: []*rules.Pack{p}})
	if p := d.Policies["shop/api"]; p == nil || js(p.Selector) != `{"team":"red"}` {
		t.Errorf("replacement not used: %s", js(d.Policies))
	}
}

func TestEngineErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"parse error keeps file and line", map[string]string{"bad.rego": "package ppc.ext.bad\n\nx := {\n"}, "bad.rego:4: rego_parse_error"},
		{"network builtin disabled", map[string]string{"net.rego": "package ppc.ext.net\n\ndeny contains {\"msg\": x} if {\n\tx := http.send({\"method\": \"get\", \"url\": \"http://example.com\"}).body\n}\n"}, "net.rego:4:7: rego_type_error: undefined function http.send"},
		{"clock disabled", map[string]string{"t.rego": "package ppc.ext.t\n\nwarn contains {\"msg\": sprintf(\"%d\", [time.now_ns()])}\n"}, "undefined function time.now_ns"},
		{"replaced stage must keep its contract", map[string]string{"synth.rego": "package ppc.synth\n\npolicies := {}\n"}, "do not define data.ppc.synth.excluded_edge"},
		{"a partial override of the hooks is refused", map[string]string{"hooks.rego": "package ppc.hooks\n\nexclude_namespace contains \"kube-system\"\n"}, "do not define data.ppc.hooks.exclude_ingress_namespace, data.ppc.hooks.exclude_egress_namespace, data.ppc.hooks.exclude_edge, data.ppc.hooks.extra_labels, data.ppc.hooks.policy_labels"},
		{"config package reserved", map[string]string{"c.rego": "package ppc.config\n\nx := 1\n"}, "reserved for settings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, src := range tt.files {
				os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644)
			}
			var err error
			p, lerr := rules.LoadDir(dir)
			if lerr != nil {
				err = lerr
			} else {
				_, err = rules.NewEngine(context.Background(), rules.Options{Packs: []*rules.Pack{p}})
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestEvalTimeout(t *testing.T) {
	p := writePack(t, map[string]string{"slow.rego": `package ppc.ext.slow

warn contains {"msg": sprintf("%d", [n])} if {
	some i in numbers.range(1, 5000)
	some j in numbers.range(1, 5000)
	n := i * j
	n < 0
}
`})
	e, err := rules.NewEngine(context.Background(), rules.Options{Packs: []*rules.Pack{p}, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Decide(context.Background(), webAPI())
	// The error names the bound, the flag that raises it, and where the
	// evaluation was: the slow rule's body (lines 4-7 of slow.rego).
	if err == nil || !strings.Contains(err.Error(), "did not finish within 200ms") || !strings.Contains(err.Error(), "--rule-timeout") ||
		!regexp.MustCompile(`stopped evaluating \S*slow\.rego:[4-7]\)`).MatchString(err.Error()) {
		t.Errorf("err = %v", err)
	}
}

// TestEvalMemoryBound: a pack that builds a huge collection is stopped
// with an error when the heap passes the bound, not by the kernel.
func TestEvalMemoryBound(t *testing.T) {
	p := writePack(t, map[string]string{"huge.rego": `package ppc.ext.huge

warn contains {"msg": sprintf("%d", [count(addrs)])} if {
	addrs := net.cidr_expand("10.0.0.0/8")
	count(addrs) < 0
}
`})
	e, err := rules.NewEngine(context.Background(), rules.Options{Packs: []*rules.Pack{p}, MemoryLimit: 256 << 20})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Decide(context.Background(), webAPI())
	if err == nil || !strings.Contains(err.Error(), "used more than 256 MiB of memory") || !strings.Contains(err.Error(), "--rule-memory") ||
		!regexp.MustCompile(`stopped evaluating \S*huge\.rego:4\)`).MatchString(err.Error()) {
		t.Errorf("err = %v", err)
	}
}

func TestDecisionsDeterministic(t *testing.T) {
	a := js(decide(t, webAPI(), rules.Options{}))
	for i := 0; i < 3; i++ {
		if b := js(decide(t, webAPI(), rules.Options{})); a != b {
			t.Fatalf("decisions differ between runs:\n%s\n%s", a, b)
		}
	}
}

// TestSettingsValidated: settings are checked against schemas/settings.cue
// after merging; each error names the setting and who set it.
func TestSettingsValidated(t *testing.T) {
	for _, tt := range []struct {
		set  string
		want string // "" means valid
	}{
		{"namespaces=bookinfo", "setting namespaces: "},
		{"max_ports_per_rule=0", "setting max_ports_per_rule: "},
		{"max_ports_per_rule=abc", "setting max_ports_per_rule: "},
		{"max_ports_per_rule=0.5", "setting max_ports_per_rule: "},
		{"max_port_per_rule=20", "setting max_port_per_rule: unknown setting"},
		{"world_peers=cidrs", "setting world_peers: "},
		{"ephemeral_ports.to=1000", "setting ephemeral_ports.to: "},
		{"dns.ports=[53, 70000]", "setting dns.ports[1]: "},
		{"namespaces=[bookinfo]", ""},
		{"ext.team.owner=blue", ""},
		{"max_ports_per_rule=20", ""},
	} {
		_, err := rules.NewEngine(context.Background(), rules.Options{Set: []string{tt.set}, CheckSettings: schemas.CheckSettings})
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("--set %s: %v", tt.set, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "(set by --set "+tt.set+")")):
			t.Errorf("--set %s: got %v, want %q and who set it", tt.set, err, tt.want)
		}
	}
}
