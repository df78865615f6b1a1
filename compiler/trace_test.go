package compiler_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/compiler/verify"
)

// TestTraceAgreesWithReplay: tracing each recorded connection gives
// replay's verdict at both ends, by construction (the same engine path),
// and ParseEndpoint's spellings name the nodes replay uses.
func TestTraceAgreesWithReplay(t *testing.T) {
	n := 0
	for _, f := range realSamples(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			res := compile(t, []string{f}, compiler.Options{NoProbe: true})
			var results []verify.Result
			for _, d := range res.Docs {
				results = append(results, verify.Result{Object: d.Object()})
			}
			names := res.Graph.DisplayNames()
			for _, x := range res.Replay.Results {
				e := x.Edge
				src, dst := res.Graph.Nodes[e.Src], res.Graph.Nodes[e.Dst]
				tr, err := compiler.Trace(results, res.Agent, src, dst, e.Protocol, e.Port)
				if err != nil {
					t.Fatal(err)
				}
				if tr.Verdict.Egress.Decision != x.Verdict.Egress.Decision || tr.Verdict.Ingress.Decision != x.Verdict.Ingress.Decision || tr.Verdict.Proxied() != x.Verdict.Proxied() {
					t.Errorf("%s: trace %+v, replay %+v", e.ID, tr.Verdict, x.Verdict)
				}
				// A workload named as the flows name it is the same node.
				if dst.Kind == "workload" {
					if p, err := compiler.ParseEndpoint(names[e.Dst], res.Graph); err != nil || p.ID != e.Dst {
						t.Errorf("ParseEndpoint(%q) = %v, %v; want %s", names[e.Dst], p, err, e.Dst)
					}
				}
				n++
			}
		})
	}
	if n < 30 {
		t.Fatalf("only %d connections traced", n)
	}
}

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct{ spec, id, err string }{
		{"world", "ent:world", ""},
		{"kube-apiserver", "ent:kube-apiserver", ""},
		{"10.0.0.1", "cidr:10.0.0.1/32", ""},
		{"10.1.2.3/16", "cidr:10.1.0.0/16", ""},
		{"2001:db8::1", "cidr:2001:db8::1/128", ""},
		{"API.Example.com.", "fqdn:api.example.com", ""},
		{"app=web,io.kubernetes.pod.namespace=shop", "wl:trace/app=web,io.kubernetes.pod.namespace=shop", ""},
		{"app=web", "", "name the namespace"},
		{"shop/web", "", "give --flows"},
		{"not an endpoint!", "", "want namespace/name"},
	} {
		n, err := compiler.ParseEndpoint(tc.spec, nil)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseEndpoint(%q) error %v, want %q", tc.spec, err, tc.err)
		case tc.err == "" && (err != nil || n.ID != tc.id):
			t.Errorf("ParseEndpoint(%q) = %v, %v; want %s", tc.spec, n, err, tc.id)
		}
	}
}

// TestTraceSuggestionFlipsTheVerdict: a connection denied by default names
// the section to change, and adding the suggested rule there allows it —
// at the ingress and at the egress, across namespaces, to a workload, an
// entity, an address and a DNS name.
func TestTraceSuggestionFlipsTheVerdict(t *testing.T) {
	set := "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: api, namespace: shop}\nspec:\n  endpointSelector: {matchLabels: {app: api}}\n  ingress: [{fromEndpoints: [{matchLabels: {app: web}}]}]\n  egress: [{toEndpoints: [{matchLabels: {app: db}}]}]\n"
	api, _ := compiler.ParseEndpoint("k8s:app=api,k8s:io.kubernetes.pod.namespace=shop", nil)
	for _, tc := range []struct {
		name, peer string
		ingress    bool
		port       string
	}{
		{"a workload of another namespace, ingress", "k8s:app=admin,k8s:io.kubernetes.pod.namespace=ops", true, "TCP"},
		{"an entity, ingress", "world", true, "TCP"},
		{"an address, egress", "203.0.113.9", false, "TCP"},
		{"a DNS name, egress", "api.example.com", false, "TCP"},
		{"ICMP, egress", "k8s:app=cache,k8s:io.kubernetes.pod.namespace=shop", false, "ICMPv4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peer, err := compiler.ParseEndpoint(tc.peer, nil)
			if err != nil {
				t.Fatal(err)
			}
			from, to := api, peer
			if tc.ingress {
				from, to = peer, api
			}
			objs, ds := manifest.Parse("p.yaml", []byte(set))
			if len(ds) > 0 {
				t.Fatal(ds)
			}
			results := []verify.Result{{Object: objs[0]}}
			tr, err := compiler.Trace(results, agent.Defaults(), from, to, tc.port, 8)
			if err != nil {
				t.Fatal(err)
			}
			if tr.Verdict.Allowed() || len(tr.Suggestions) != 1 {
				t.Fatalf("verdict %+v, suggestions %+v", tr.Verdict, tr.Suggestions)
			}
			sg := tr.Suggestions[0]
			if sg.Policy != "shop/api" || (tc.ingress && sg.Section != "spec.ingress") || (!tc.ingress && sg.Section != "spec.egress") {
				t.Fatalf("suggestion %+v", sg)
			}
			// Apply it and trace again.
			var doc map[string]any
			if err := json.Unmarshal(objs[0].JSON, &doc); err != nil {
				t.Fatal(err)
			}
			spec := doc["spec"].(map[string]any)
			section := strings.TrimPrefix(sg.Section, "spec.")
			spec[section] = append(spec[section].([]any), sg.Rule)
			b, _ := json.Marshal(doc)
			objs[0].JSON = b
			tr, err = compiler.Trace([]verify.Result{{Object: objs[0]}}, agent.Defaults(), from, to, tc.port, 8)
			if err != nil {
				t.Fatal(err)
			}
			if !tr.Verdict.Allowed() {
				t.Errorf("still denied after adding %v: %+v", sg.Rule, tr.Verdict)
			}
		})
	}
}

// TestTraceAgreesWithReplayHandWritten: on hand-written multi-namespace
// sets with their flows (testdata/lint/corpus), tracing every recorded
// connection gives replay's verdict at both ends.
func TestTraceAgreesWithReplayHandWritten(t *testing.T) {
	ctx := context.Background()
	for _, set := range []string{"flows-view", "shared-and-unselected"} {
		t.Run(set, func(t *testing.T) {
			dir := filepath.Join("..", "testdata", "lint", "corpus", set)
			res, settings, err := compiler.LearnAttempts(ctx, []string{filepath.Join(dir, "flows.json")}, compiler.LearnOptions{}, agent.Defaults(), true)
			if err != nil || res.Diagnostics.HasErrors() {
				t.Fatalf("%v %v", err, res.Diagnostics)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
			objs, bad, _, err := manifest.ReadPaths(files, nil)
			if err != nil || len(bad) > 0 {
				t.Fatalf("%v %v", err, bad)
			}
			pr, err := compiler.ReplayPolicies(ctx, nil, res.Graph, objs, "default", settings, nil)
			if err != nil {
				t.Fatal(err)
			}
			namespaces := map[string]bool{}
			for _, x := range pr.Report.Results {
				e := x.Edge
				src, dst := res.Graph.Nodes[e.Src], res.Graph.Nodes[e.Dst]
				namespaces[src.Namespace], namespaces[dst.Namespace] = true, true
				tr, err := compiler.Trace(pr.Verified, settings, src, dst, e.Protocol, e.Port)
				if err != nil {
					t.Fatal(err)
				}
				if tr.Verdict.Egress.Decision != x.Verdict.Egress.Decision || tr.Verdict.Ingress.Decision != x.Verdict.Ingress.Decision {
					t.Errorf("%s: trace %+v, replay %+v", e.ID, tr.Verdict, x.Verdict)
				}
			}
			if len(pr.Report.Results) < 3 || len(namespaces) < 2 {
				t.Fatalf("%d connections in %d namespaces", len(pr.Report.Results), len(namespaces))
			}
		})
	}
}
