package lint

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/compiler/verify"
	"github.com/policypilot/ppc/rules"
)

func newLinter(t testing.TB, withVerify bool) *Linter {
	t.Helper()
	opts := Options{Namespace: "default"}
	if withVerify {
		v, err := verify.New(verify.Options{Agent: agent.Defaults()})
		if err != nil {
			t.Fatal(err)
		}
		opts.Verifier = v
	}
	l, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func lintYAML(t testing.TB, l *Linter, y string) *Report {
	t.Helper()
	objs, ds := manifest.Parse("p.yaml", []byte(y))
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	rep, err := l.Lint(context.Background(), objs)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

const head = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: web
  namespace: shop
spec:
`

const dnsEgress = `  - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s-app: kube-dns}}]
    toPorts: [{ports: [{port: "53", protocol: UDP}], rules: {dns: [{matchPattern: "*"}]}}]
`

func ports(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(`{port: "` + itoa(1000+i) + `", protocol: TCP}, `)
	}
	return strings.TrimSuffix(b.String(), ", ")
}

func itoa(i int) string {
	s := ""
	for ; i > 0; i /= 10 {
		s = string(rune('0'+i%10)) + s
	}
	return s
}

// TestDefaultRules: for every default rule, a policy that triggers it
// (with the path) and a near miss that does not.
func TestDefaultRules(t *testing.T) {
	sel := "  endpointSelector: {matchLabels: {app: web}}\n"
	second := "---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: baseline\n  namespace: shop\n  annotations: {ppc.policypilot.io/intent: x}\nspec:\n  endpointSelector: {}\n"
	metrics := "  - fromEndpoints: [{matchLabels: {app: prometheus}}]\n    toPorts: [{ports: [{port: \"9090\", protocol: TCP}]}]\n"
	seenIn := func(ws ...Workload) *View { return &View{Workloads: ws} }
	tests := []struct {
		rule, name, spec string
		path             string // "" for the near miss
		view             *View  // the flows' view, if any
	}{
		{"CIL001", "toEntities all on every port", sel + "  egress:\n  - toEntities: [all]\n" + dnsEgress, "spec.egress[0].toEntities", nil},
		{"CIL001", "fromEntities world on every port", sel + "  ingress:\n  - fromEntities: [world]\n", "spec.ingress[0].fromEntities", nil},
		{"CIL001", "near miss: world on one port", sel + "  ingress:\n  - fromEntities: [world]\n    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n", "", nil},
		{"CIL002", "empty endpointSelector", "  endpointSelector: {}\n  ingress:\n  - fromEndpoints: [{matchLabels: {app: x}}]\n", "spec.endpointSelector", nil},
		{"CIL002", "near miss: a label", sel + "  ingress:\n  - fromEndpoints: [{matchLabels: {app: x}}]\n", "", nil},
		{"CIL003", "toFQDNs without DNS rule", sel + "  egress:\n  - toFQDNs: [{matchName: api.example.com}]\n    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n  - toEndpoints: [{matchLabels: {k8s-app: kube-dns}}]\n    toPorts: [{ports: [{port: \"53\", protocol: UDP}]}]\n", "spec.egress[0].toFQDNs", nil},
		{"CIL003", "near miss: with rules.dns", sel + "  egress:\n  - toFQDNs: [{matchName: api.example.com}]\n    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n" + dnsEgress, "", nil},
		{"CIL004", "egress without DNS", sel + "  egress:\n  - toEndpoints: [{matchLabels: {app: db}}]\n    toPorts: [{ports: [{port: \"5432\", protocol: TCP}]}]\n", "spec.egress", nil},
		{"CIL004", "near miss: DNS allowed", sel + "  egress:\n  - toEndpoints: [{matchLabels: {app: db}}]\n    toPorts: [{ports: [{port: \"5432\", protocol: TCP}]}]\n" + dnsEgress, "", nil},
		{"CIL005", "pod-template-hash", "  endpointSelector: {matchLabels: {app: web, pod-template-hash: 5d4f8}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {app: x}}]\n", "spec.endpointSelector", nil},
		{"CIL005", "controller-revision-hash in a peer", sel + "  ingress:\n  - fromEndpoints: [{matchExpressions: [{key: k8s:controller-revision-hash, operator: Exists}]}]\n", "spec.ingress[0].fromEndpoints[0]", nil},
		{"CIL005", "near miss: app.kubernetes.io/name", "  endpointSelector: {matchLabels: {app.kubernetes.io/name: web}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: x}}]\n", "", nil},
		{"CIL006", "CIDR on the API server", sel + "  egress:\n  - toCIDR: [10.96.0.1/32]\n    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n" + dnsEgress, "spec.egress[0].toCIDR[0]", nil},
		{"CIL006", "near miss: another CIDR", sel + "  egress:\n  - toCIDRSet: [{cidr: 203.0.113.0/24}]\n    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n" + dnsEgress, "", nil},
		{"CIL007", "41 ports", sel + "  ingressDeny:\n  - fromEntities: [world]\n    toPorts: [{ports: [" + ports(41) + "]}]\n", "spec.ingressDeny[0].toPorts[0].ports", nil},
		{"CIL007", "near miss: 40 ports", sel + "  ingressDeny:\n  - fromEntities: [world]\n    toPorts: [{ports: [" + ports(40) + "]}]\n", "", nil},
		{"CIL008", "HTTP on a port range", sel + "  ingress:\n  - fromEndpoints: [{matchLabels: {app: x}}]\n    toPorts: [{ports: [{port: \"8000\", endPort: 8010, protocol: TCP}], rules: {http: [{method: GET}]}}]\n", "spec.ingress[0].toPorts[0].ports[0]", nil},
		{"CIL008", "near miss: HTTP on one port", sel + "  ingress:\n  - fromEndpoints: [{matchLabels: {app: x}}]\n    toPorts: [{ports: [{port: \"8000\", protocol: TCP}], rules: {http: [{method: GET}]}}]\n", "", nil},
		{"CIL009", "a workload of the flows no policy selects", sel + "  ingress:\n  - {}\n", "metadata.namespace",
			seenIn(Workload{Name: "shop/web", Namespace: "shop", Specs: []SpecRef{{"shop/web", "spec"}}}, Workload{Name: "shop/legacy", Namespace: "shop"})},
		{"CIL009", "near miss: every workload selected", sel + "  ingress:\n  - {}\n", "",
			seenIn(Workload{Name: "shop/web", Namespace: "shop", Specs: []SpecRef{{"shop/web", "spec"}}}, Workload{Name: "other/legacy", Namespace: "other"})},
		{"CIL010", "an allow a namespace-wide deny cancels", sel + "  egress:\n  - toEntities: [world]\n    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n" + dnsEgress + second + "  egressDeny:\n  - toEntities: [world]\n", "spec.egress[0]", nil},
		{"CIL010", "near miss: the deny is on port 22 only", sel + "  egress:\n  - toEntities: [world]\n    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n" + dnsEgress + second + "  egressDeny:\n  - toEntities: [world]\n    toPorts: [{ports: [{port: \"22\", protocol: TCP}]}]\n", "", nil},
		{"CIL011", "a copy of a namespace-wide allow", sel + "  ingress:\n" + metrics + second + "  ingress:\n" + metrics, "spec.ingress[0]", nil},
		{"CIL012", "a method-only HTTP rule", sel + "  ingress:\n  - fromEndpoints: [{matchLabels: {app: x}}]\n    toPorts: [{ports: [{port: \"8000\", protocol: TCP}], rules: {http: [{method: GET}]}}]\n", "spec.ingress[0].toPorts[0].rules.http[0]", nil},
		{"CIL012", "near miss: a path", sel + "  ingress:\n  - fromEndpoints: [{matchLabels: {app: x}}]\n    toPorts: [{ports: [{port: \"8000\", protocol: TCP}], rules: {http: [{method: GET, path: /health}]}}]\n", "", nil},
		{"CIL013", "HTTP rules on a port that also serves non-HTTP connections", sel + "  ingress:\n  - fromEndpoints: [{matchLabels: {app: x}}]\n    toPorts: [{ports: [{port: \"8000\", protocol: TCP}], rules: {http: [{method: GET, path: /health}]}}]\n", "spec.ingress[0].toPorts[0].ports[0]",
			seenIn(Workload{Name: "shop/web", Namespace: "shop", Specs: []SpecRef{{"shop/web", "spec"}}, Serves: []Served{{Protocol: "TCP", Port: 8000, Connections: 9, HTTP: 7, Other: 2}}})},
		{"CIL013", "near miss: only HTTP on the port", sel + "  ingress:\n  - fromEndpoints: [{matchLabels: {app: x}}]\n    toPorts: [{ports: [{port: \"8000\", protocol: TCP}], rules: {http: [{method: GET, path: /health}]}}]\n", "",
			seenIn(Workload{Name: "shop/web", Namespace: "shop", Specs: []SpecRef{{"shop/web", "spec"}}, Serves: []Served{{Protocol: "TCP", Port: 8000, Connections: 9, HTTP: 9}, {Protocol: "TCP", Port: 9000, Connections: 3, Other: 3}}})},
		{"CIL011", "near miss: another port", sel + "  ingress:\n" + metrics + second + "  ingress:\n" + strings.Replace(metrics, "9090", "9091", 1), "", nil},
	}
	l := newLinter(t, false)
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.rule+" "+tt.name, func(t *testing.T) {
			l := l
			if tt.view != nil {
				var err error
				l, err = New(context.Background(), Options{Namespace: "default", Select: func([]verify.Result) (*View, error) { return tt.view, nil }})
				if err != nil {
					t.Fatal(err)
				}
			}
			rep := lintYAML(t, l, head+tt.spec)
			var hits []Finding
			for _, f := range rep.Findings {
				if f.Rule == tt.rule {
					hits = append(hits, f)
				}
			}
			if tt.path == "" {
				if len(hits) > 0 {
					t.Fatalf("near miss triggered %s: %+v", tt.rule, hits)
				}
				return
			}
			seen[tt.rule] = true
			if len(hits) == 0 {
				t.Fatalf("%s not triggered; findings: %+v", tt.rule, rep.Findings)
			}
			if hits[0].Path != tt.path || hits[0].Policy != "shop/web" || hits[0].File != "p.yaml" || hits[0].Doc != 1 || hits[0].Msg == "" {
				t.Errorf("finding %+v, want path %s", hits[0], tt.path)
			}
		})
	}
	for _, r := range l.Rules() {
		if !seen[r.ID] {
			t.Errorf("default rule %s has no triggering test", r.ID)
		}
		if r.Title == "" || r.Rationale == "" || r.Severity == "" || !strings.HasPrefix(r.ID, "CIL") {
			t.Errorf("rule %+v lacks metadata", r)
		}
	}
}

// TestResultShapes: deny/warn/violation results as strings and as
// structured objects (msg, path as array or string, id, other fields).
func TestResultShapes(t *testing.T) {
	dir := t.TempDir()
	src := `package ppc.lint.shapes

deny contains "plain message" if input.kind

warn contains {"msg": "with a string path", "path": "spec.endpointSelector"} if input.kind

violation contains {"msg": "structured", "id": "SHP9", "path": ["spec", "ingress", 0], "ticket": "SEC-1"} if input.kind
`
	if err := os.WriteFile(filepath.Join(dir, "shapes.rego"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := rules.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := New(context.Background(), Options{Packs: []*rules.Pack{p}, NoDefault: true, Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	rep := lintYAML(t, l, head+"  endpointSelector: {}\n  ingress:\n  - {}\n")
	var got []string
	for _, f := range rep.Findings {
		got = append(got, fmt.Sprintf("%s|%s|%s|%s|%d|%v", f.Rule, f.Severity, f.Msg, f.Path, f.Line, f.Details))
	}
	want := []string{
		"SHP9|deny|structured|spec.ingress[0]|9|map[ticket:SEC-1]",
		"shapes|deny|plain message||1|map[]",
		"shapes|warn|with a string path|spec.endpointSelector|7|map[]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rs := l.Rules(); len(rs) != 1 || rs[0].ID != "shapes" || rs[0].Severity != Deny {
		t.Errorf("rules %+v", rs)
	}
}

// TestRuleRuntimeError: a rule that fails on one policy (a builtin's error
// on a value it did not expect) is a deny finding on that policy; the
// other rules still judge it, and the other policies are linted as usual.
// The default pack's rules take named ports and invalid CIDRs in stride.
func TestRuleRuntimeError(t *testing.T) {
	dir := t.TempDir()
	src := `package ppc.lint.fragile

deny contains sprintf("port %d", [to_number(p.port)]) if {
	some r in input.spec.ingress
	some tp in r.toPorts
	some p in tp.ports
	to_number(p.port) > 1000
}
`
	if err := os.WriteFile(filepath.Join(dir, "fragile.rego"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := rules.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := New(context.Background(), Options{Packs: []*rules.Pack{p}, Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	y := head + `  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: api}}]
    toPorts: [{ports: [{port: "http", protocol: TCP}]}]
  egress:
  - toCIDR: ["10.0.0.0/33"]
    toPorts: [{ports: [{port: "dns-tcp", protocol: TCP}]}]
---
` + strings.Replace(head, "name: web", "name: api", 1) + `  endpointSelector: {matchLabels: {app: api}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: web}}]
    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
`
	rep := lintYAML(t, l, y)
	var got []string
	for _, f := range rep.Findings {
		got = append(got, f.Policy+"|"+f.Rule+"|"+string(f.Severity)+"|"+f.Msg)
	}
	all := strings.Join(got, "\n")
	if !strings.Contains(all, "shop/web|fragile|deny|lint rule fragile failed on this policy") {
		t.Errorf("no finding for the failing rule:\n%s", all)
	}
	if !strings.Contains(all, "shop/api|fragile|deny|port 8080") {
		t.Errorf("the other policy was not linted by the rule:\n%s", all)
	}
	if !strings.Contains(all, "shop/web|CIL004|") {
		t.Errorf("the other rules did not judge the failing policy:\n%s", all)
	}
}
