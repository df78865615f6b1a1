package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/policypilot/ppc/ir"
)

// memoCorpus is every policy of Cilium's examples, the layer cases, and
// variants of a valid policy that are wrong in one element each: valid
// rules, peers and ports seen before sit beside elements that are not.
func memoCorpus(t *testing.T) []Object {
	t.Helper()
	_, objs := ciliumExamples(t)
	var out []Object
	for _, o := range objs {
		if strings.Contains(o.Kind, "NetworkPolicy") {
			out = append(out, Object{Pos: o.Pos, JSON: o.JSON})
		}
	}
	valid := "  ingress:\n  - fromEndpoints: [{matchLabels: {app: web}}, {matchLabels: {app: db}}]\n    toPorts: [{ports: [{port: \"80\", protocol: TCP}, {port: \"81\", protocol: TCP}]}]\n" +
		"  - fromCIDR: [10.0.0.0/8]\n    toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n" +
		"  egress:\n  - toFQDNs: [{matchName: api.example.com}]\n    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n"
	out = append(out, doc(t, basePolicy+valid))
	for _, r := range [][2]string{
		{"{matchLabels: {app: db}}", "{matchLabelz: {app: db}}"},
		{"{matchLabels: {app: db}}", "{matchLabels: {app: \"d b\"}}"},
		{"port: \"81\", protocol: TCP", "port: \"81\", protocol: TCPX"},
		{"port: \"81\", protocol: TCP", "port: \"81\", protocol: TCP, endPort: -1"},
		{"10.0.0.0/8", "10.0.0.0"},
		{"matchName: api.example.com", "matchName: \"api example.com\""},
		{"  - fromCIDR", "  - fromCIDR: [10.0.0.0/8]\n    fromEndpoints: [{}]\n  - fromCIDR"},
		{"  egress:\n", "  egress:\n  - toEntities: [world-ipv4]\n"},
		{"name: api\n", "name: API\n"},
		// Judged beyond their schema: never stood for by a known value.
		{"apiVersion: cilium.io/v2", "apiVersion: cilium.io/v9"},
		{"kind: CiliumNetworkPolicy", "kind: CiliumNetworkPolicyX"},
	} {
		d := strings.Replace(basePolicy+valid, r[0], r[1], 1)
		if d == basePolicy+valid {
			t.Fatalf("variant %q does not apply", r[0])
		}
		out = append(out, doc(t, d))
	}
	for _, c := range layerCases() {
		out = append(out, doc(t, basePolicy+c.spec))
	}
	return out
}

// TestCRDMemoSameDiagnostics: the API server layer with its memo reports
// exactly what it reports without one, cold and warm, on every policy of
// Cilium's examples and on policies wrong in one element beside elements
// known clean.
func TestCRDMemoSameDiagnostics(t *testing.T) {
	objs := memoCorpus(t)
	with := newVerifier(t, false)
	without := newVerifier(t, false)
	for _, c := range without.crds {
		c.memo = nil
	}
	ctx := context.Background()
	for pass := 0; pass < 3; pass++ {
		for _, o := range objs {
			got, want := fmt.Sprint(with.Verify(ctx, o)), fmt.Sprint(without.Verify(ctx, o))
			if got != want {
				t.Errorf("pass %d, %s:\n got %s\nwant %s", pass, o.Pos, got, want)
			}
		}
	}
	if with.crds["CiliumNetworkPolicy"].memo.parts.Bytes() == 0 {
		t.Fatal("nothing remembered: the memo is not used")
	}
}

// TestCRDMemoArrays: the lists ppc writes, and selectors' label values,
// are found independent in Cilium's CRD, so its policies' known rules,
// peers, ports and label values are not validated again; lists the CRD
// judges as a whole are not.
func TestCRDMemoArrays(t *testing.T) {
	for _, kind := range []string{"CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"} {
		m := newVerifier(t, false).crds[kind].memo
		if m == nil {
			t.Fatalf("%s: no memo (a CEL rule or combinator of the CRD that it does not know?)", kind)
		}
		for path, droppable := range map[string]bool{
			"spec.ingress[]": true, "spec.egress[]": true, "spec.ingress[].fromEndpoints[]": true,
			"spec.egress[].toEndpoints[]": true, "spec.egress[].toPorts[]": true, "spec.egress[].toCIDR[]": true,
			"spec.egress[].toFQDNs[]": true, "spec.ingress[].fromEntities[]": true, "spec.ingress[].icmps[]": true,
			"spec.egress[].toPorts[].rules.dns[]": true, "spec.ingress[].toPorts[].rules.http[]": true,
			// At most 40 ports, 40 ICMP fields: replaced, not dropped.
			"spec.egress[].toPorts[].ports[]": false, "spec.ingress[].icmps[].fields[]": false,
		} {
			a, ok := m.arrays[path]
			if !ok || a.droppable != droppable {
				t.Errorf("%s: %s: found %v, droppable %v; want droppable %v", kind, path, ok, a.droppable, droppable)
			}
		}
		for _, path := range []string{"spec.endpointSelector.matchLabels.*", "spec.ingress[].fromEndpoints[].matchLabels.*", "spec.egress[].toEndpoints[].matchLabels.*",
			"spec.egress[].toPorts[].ports[].port", "spec.egress[].toCIDR[]", "spec.egress[].toFQDNs[].matchName"} {
			if m.leaves[path] == nil {
				t.Errorf("%s: %s: not judged alone", kind, path)
			}
		}
		// A set: its elements are judged together.
		if _, ok := m.arrays["spec.egress[].toPorts[].serverNames[]"]; ok {
			t.Errorf("%s: serverNames (a set) taken as independent", kind)
		}
	}
}

// TestCRDMemoDropsKnown: once a policy is known clean, validating it again
// leaves every rule out (kube-openapi costs ~0.1 ms a rule), and a
// policy with one new peer validates that peer and its rule only.
func TestCRDMemoDropsKnown(t *testing.T) {
	v := newVerifier(t, false)
	c := v.crds["CiliumNetworkPolicy"]
	ctx := context.Background()
	spec := "  ingress:\n  - fromEndpoints: [{matchLabels: {app: web}}, {matchLabels: {app: db}}]\n    toPorts: [{ports: [{port: \"80\", protocol: TCP}, {port: \"81\", protocol: TCP}]}]\n" +
		"  egress:\n  - toFQDNs: [{matchName: api.example.com}]\n    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n"
	p := doc(t, basePolicy+spec)
	skeleton := func(o Object) (string, []string) {
		var m map[string]any
		if err := json.Unmarshal(o.JSON, &m); err != nil {
			t.Fatal(err)
		}
		var pending []pendingElem
		x, ok := c.memo.canon(m, c.structural, "", &pending)
		if !ok {
			t.Fatal("not handled")
		}
		b, _ := json.Marshal(x.(map[string]any)["spec"])
		var keys []string
		for _, e := range pending {
			keys = append(keys, e.path)
		}
		return string(b), keys
	}
	// Known elements change the keys of the elements around them: a few
	// validations settle it.
	for i := 0; i < 4; i++ {
		if ds := v.Verify(ctx, p); len(ds) > 0 {
			t.Fatal(ds)
		}
	}
	if s, pending := skeleton(p); s != `{"egress":[],"endpointSelector":{"matchLabels":{"app":"api"}},"ingress":[]}` || len(pending) > 0 {
		t.Errorf("a known policy validates %s, %v new elements; want no rules", s, pending)
	}
	// A new workload's label value is checked alone; its selector and
	// rule are then known by their skeletons.
	other := doc(t, basePolicy+strings.Replace(spec, "{app: db}", "{app: cache}", 1))
	if s, pending := skeleton(other); s != `{"egress":[],"endpointSelector":{"matchLabels":{"app":"api"}},"ingress":[]}` || len(pending) > 0 {
		t.Errorf("a policy with one new peer validates %s, %v new elements; want no rules", s, pending)
	}
	if !c.memo.parts.Known("spec.ingress[].fromEndpoints[].matchLabels.*\x01cache") {
		t.Error("the new label value was not checked and remembered")
	}
	// A label value that is not valid is left where it is: the policy is
	// validated as written and the value reported.
	bad := doc(t, basePolicy+strings.Replace(spec, "{app: db}", "{app: \"c a\"}", 1))
	if _, pending := skeleton(bad); strings.Join(pending, " ") != "spec.ingress[].fromEndpoints[] spec.ingress[]" {
		t.Errorf("a policy with a bad label value validates %v; want its selector and rule", pending)
	}
	if ds := v.Verify(ctx, bad); len(ds) == 0 || ir.JoinPath(ds[0].Path) != `spec.ingress[0].fromEndpoints[1].matchLabels.app` {
		t.Errorf("bad label value: %v", ds)
	}
}

// TestCRDMemoParallel: verifying on every core, where goroutines meet
// the memos (the API server's and ppc's CUE schema's) half-filled by
// each other, reports what verifying one by one without the API server's
// memo does.
func TestCRDMemoParallel(t *testing.T) {
	objs := memoCorpus(t)
	var all []Object
	for i := 0; i < 4; i++ {
		all = append(all, objs...)
	}
	without := newVerifier(t, true)
	for _, c := range without.crds {
		c.memo = nil
	}
	got := newVerifier(t, true).VerifyAll(context.Background(), all)
	for i, o := range all {
		if want := fmt.Sprint(without.Verify(context.Background(), o)); fmt.Sprint(got[i]) != want {
			t.Errorf("%s (copy %d):\n got %s\nwant %s", o.Pos, i/len(objs), got[i], want)
		}
	}
}

// FuzzCRDMemo: on any document, the API server layer reports with its
// memo (warm with valid policies of many shapes) exactly what it reports
// without one.
func FuzzCRDMemo(f *testing.F) {
	valid := "  ingress:\n  - fromEndpoints: [{matchLabels: {app: web}}, {matchLabels: {app: db}}]\n    toPorts: [{ports: [{port: \"80\", protocol: TCP}, {port: \"81\", protocol: TCP}]}]\n" +
		"  - fromCIDR: [10.0.0.0/8]\n    toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n" +
		"  egress:\n  - toFQDNs: [{matchName: api.example.com}]\n    toPorts: [{ports: [{port: \"443\", protocol: TCP}], rules: {dns: [{matchPattern: \"*\"}]}}]\n" +
		"  - toEntities: [world]\n    icmps: [{fields: [{type: 8, family: IPv4}]}]\n"
	warm := []Object{doc(f, basePolicy+valid)}
	for _, c := range layerCases() {
		warm = append(warm, doc(f, basePolicy+c.spec))
	}
	for _, o := range warm {
		f.Add(o.JSON)
	}
	with := newVerifier(f, false)
	without := newVerifier(f, false)
	for _, c := range without.crds {
		c.memo = nil
	}
	for i := 0; i < 4; i++ { // known elements settle in a few rounds
		for _, o := range warm {
			with.Verify(context.Background(), o)
		}
	}
	schemaLayer := func(ds ir.Diagnostics) string {
		var out ir.Diagnostics
		for _, d := range ds {
			if d.Code == LayerSchema.Code() {
				out = append(out, d)
			}
		}
		return fmt.Sprint(out)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o := Object{JSON: b}
		if got, want := schemaLayer(with.Verify(context.Background(), o)), schemaLayer(without.Verify(context.Background(), o)); got != want {
			t.Fatalf("with the memo:\n%s\nwithout:\n%s", got, want)
		}
	})
}
