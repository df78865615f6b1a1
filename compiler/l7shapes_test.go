package compiler_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/policypilot/ppc/compiler"
)

// l7Capture writes Hubble L7 records (REQUEST, is_reply false, as the
// Envoy proxy reports them at the server's ingress) of the request shapes
// real services have: REST paths with numeric IDs (many values of one
// segment), UUIDs, dates, hex digests, query strings, gRPC calls (one
// service with many methods, one with few).
func l7Capture(t *testing.T) string {
	t.Helper()
	ep := func(app, ns string, id int) string {
		return fmt.Sprintf(`{"identity":%d,"namespace":%q,"labels":["k8s:app=%s","k8s:io.kubernetes.pod.namespace=%s"],"pod_name":"%s-0"}`, id, ns, app, ns, app)
	}
	web, api, cart := ep("web", "shop", 1001), ep("api", "shop", 1002), ep("cart", "shop", 1003)
	var b strings.Builder
	n := 0
	req := func(src, dst, sip, dip string, port int, method, url, proto string) {
		n++
		fmt.Fprintf(&b, `{"flow":{"time":"2026-11-20T09:00:%02d.%06dZ","verdict":"FORWARDED","IP":{"source":%q,"destination":%q,"ipVersion":"IPv4"},"l4":{"TCP":{"source_port":%d,"destination_port":%d}},"source":%s,"destination":%s,"Type":"L7","l7":{"type":"REQUEST","http":{"method":%q,"url":%q,"protocol":%q}},"event_type":{"type":129},"traffic_direction":"INGRESS","is_reply":false}}`+"\n",
			n/1000, n%1000, sip, dip, 40000+n, port, src, dst, method, url, proto)
	}
	for i := 0; i < 15; i++ {
		req(web, api, "10.0.0.1", "10.0.0.2", 8080, "GET", fmt.Sprintf("http://api:8080/api/v1/products/%d", 100+i*7), "HTTP/1.1")
	}
	req(web, api, "10.0.0.1", "10.0.0.2", 8080, "GET", "http://api:8080/api/v1/orders/3fa85f64-5717-4562-b3fc-2c963f66afa6", "HTTP/1.1")
	req(web, api, "10.0.0.1", "10.0.0.2", 8080, "GET", "http://api:8080/reports/2026-12-01/summary?format=csv", "HTTP/1.1")
	req(web, api, "10.0.0.1", "10.0.0.2", 8080, "GET", "http://api:8080/blobs/sha256/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b", "HTTP/1.1")
	req(web, api, "10.0.0.1", "10.0.0.2", 8080, "POST", "http://api:8080/api/v1/cart?session=x", "HTTP/1.1")
	for _, m := range []string{"Add", "Remove", "Get", "List", "Empty", "Merge", "Price", "Checkout", "Count"} {
		req(web, cart, "10.0.0.1", "10.0.0.3", 7070, "POST", "http://cart:7070/shop.v1.Cart/"+m, "HTTP/2")
	}
	req(web, cart, "10.0.0.1", "10.0.0.3", 7070, "POST", "http://cart:7070/grpc.health.v1.Health/Check", "HTTP/2")
	f := filepath.Join(t.TempDir(), "l7.json")
	if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestL7Shapes: on requests of every shape the templates handle, the HTTP
// rules pass every verification layer, Cilium's engine allows every
// observed request through them, the rules per port stay few (folded),
// and the probe of requests never observed reports what the templates
// admit beyond them.
func TestL7Shapes(t *testing.T) {
	res := compile(t, []string{l7Capture(t)}, compiler.Options{Set: []string{"l7.http=observed"}})
	if res.Diagnostics.HasErrors() {
		t.Fatalf("diagnostics:\n%v", res.Diagnostics)
	}
	perPort := map[string][]string{}
	for _, p := range writtenCNPs(t, res) {
		for _, r := range p.Spec.Ingress {
			for _, pr := range r.ToPorts {
				if pr.Rules == nil {
					continue
				}
				for _, h := range pr.Rules.HTTP {
					key := p.Namespace + "/" + p.Name + " " + pr.Ports[0].Port
					perPort[key] = append(perPort[key], h.Method+" "+h.Path)
				}
			}
		}
	}
	api, cart := perPort["shop/api 8080"], perPort["shop/cart 7070"]
	all := strings.Join(append(append([]string(nil), api...), cart...), "\n")
	for _, want := range []string{
		`GET ^/api/v1/products/[0-9]+(\?.*)?$`,
		`GET ^/api/v1/orders/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(\?.*)?$`,
		`GET ^/reports/[0-9]{4}-[0-9]{2}-[0-9]{2}/summary(\?.*)?$`,
		`GET ^/blobs/sha256/[0-9a-fA-F]+(\?.*)?$`,
		`POST ^/api/v1/cart(\?.*)?$`,
		`POST ^/shop\.v1\.Cart/[^/]+$`,
		`POST ^/grpc\.health\.v1\.Health/Check$`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no rule %s among:\n%s", want, all)
		}
	}
	if len(api) != 5 || len(cart) != 2 {
		t.Errorf("rules per port: api 8080 %d (want 5), cart 7070 %d (want 2):\n%s", len(api), len(cart), all)
	}
	r := res.Replay
	if r.Requests != 29 || r.RequestsAllowed != r.Requests {
		t.Errorf("the L7 rules allow %d of %d observed requests", r.RequestsAllowed, r.Requests)
	}
	if r.L7Probe == nil || r.L7Probe.Candidates == 0 {
		t.Fatalf("no L7 probe: %+v", r.L7Probe)
	}
	t.Logf("rules per port: api 8080 %d, cart 7070 %d; L7 probe: %d of %d unobserved requests admitted", len(api), len(cart), r.L7Probe.Allowed, r.L7Probe.Candidates)
}
