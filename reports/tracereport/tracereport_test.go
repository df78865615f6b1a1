package tracereport

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/internal/testutil"
	"github.com/policypilot/ppc/reports"
)

// TestGolden: a denied trace (one end by default deny, with the change
// that allows it; the other by a deny rule) and an allowed one through the
// proxy, in every format (testdata/trace; PPC_UPDATE=1 rewrites them).
func TestGolden(t *testing.T) {
	objs, ds := manifest.Parse("policies/api.yaml", []byte("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: api, namespace: shop}\nspec:\n  endpointSelector: {matchLabels: {app: api}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {app: web}}]\n  ingressDeny:\n  - fromEntities: [world]\n"))
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	objects := map[string]manifest.Object{"shop/api": objs[0]}
	denied := &Run{From: "k8s:app=admin,k8s:io.kubernetes.pod.namespace=ops", To: "shop/api", Objects: objects, TraceResult: &compiler.TraceResult{
		Protocol: "TCP", Port: 8080, Loaded: 1, ToPolicies: []string{"shop/api"},
		Verdict: replay.Verdict{Egress: replay.Point{Decision: replay.Allowed}, Ingress: replay.Point{Decision: replay.Denied}},
		Suggestions: []compiler.Suggestion{{Policy: "shop/api", Section: "spec.ingress", Rule: map[string]any{
			"fromEndpoints": []any{map[string]any{"matchLabels": map[string]any{"app": "admin", "k8s:io.kubernetes.pod.namespace": "ops"}}},
			"toPorts":       []any{map[string]any{"ports": []any{map[string]any{"port": "8080", "protocol": "TCP"}}}},
		}}},
	}}
	explicit := &Run{From: "world", To: "shop/api", Objects: objects, TraceResult: &compiler.TraceResult{
		Protocol: "TCP", Port: 8080, Loaded: 1, ToPolicies: []string{"shop/api"},
		Verdict: replay.Verdict{Egress: replay.Point{Decision: replay.NotApplicable}, Ingress: replay.NewPoint(replay.Denied, false, []replay.RuleRef{{Policy: "shop/api", Path: "spec.ingressDeny[0]"}}, nil)},
	}}
	allowed := &Run{From: "shop/web", To: "shop/api", Objects: objects, TraceResult: &compiler.TraceResult{
		Protocol: "TCP", Port: 8080, Loaded: 1, ToPolicies: []string{"shop/api"},
		Verdict: replay.Verdict{Egress: replay.Point{Decision: replay.Allowed}, Ingress: replay.NewPoint(replay.Allowed, true,
			[]replay.RuleRef{{Policy: "shop/api", Path: "spec.ingress[0]"}}, []replay.L7{{Parser: "http"}})},
	}}
	for _, f := range Formats.Names() {
		var b bytes.Buffer
		for _, r := range []*Run{denied, explicit, allowed} {
			if err := Formats.Write(&b, f, r, reports.Options{}); err != nil {
				t.Fatal(err)
			}
		}
		testutil.Golden(t, filepath.Join(testutil.Testdata(), "trace", "trace."+f), b.Bytes())
	}
}
