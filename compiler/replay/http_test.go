package replay

import (
	"testing"

	"github.com/cilium/cilium/pkg/policy/api"

	"github.com/policypilot/ppc/ir"
)

// TestHTTPRequest decides requests as Envoy applies Cilium's HTTP rules:
// method and path full RE2 matches, host and headers not knowable from
// the flows.
func TestHTTPRequest(t *testing.T) {
	point := func(rules ...api.PortRuleHTTP) Point {
		return NewPoint(Allowed, true, nil, []L7{{Parser: "http", Rules: api.L7Rules{HTTP: rules}}})
	}
	items := api.PortRuleHTTP{Method: "GET", Path: `^/api/items/[0-9]+(\?.*)?$`}
	for _, tc := range []struct {
		name         string
		p            Point
		method, path string
		want         RequestDecision
	}{
		{"templated path", point(items), "GET", "/api/items/42", RequestAllowed},
		{"other id shape", point(items), "GET", "/api/items/abc", RequestDenied},
		{"longer path", point(items), "GET", "/api/items/42/delete", RequestDenied},
		{"other method", point(items), "DELETE", "/api/items/42", RequestDenied},
		{"unanchored pattern still matches whole", point(api.PortRuleHTTP{Path: "/api"}), "GET", "/api/x", RequestDenied},
		{"method regex", point(api.PortRuleHTTP{Method: "GET|HEAD"}), "HEAD", "/", RequestAllowed},
		{"method prefix is no match", point(api.PortRuleHTTP{Method: "GE"}), "GET", "/", RequestDenied},
		{"host rule unknowable", point(api.PortRuleHTTP{Path: "/x", Host: "a.example"}), "GET", "/x", RequestUnknown},
		{"header rule unknowable", point(api.PortRuleHTTP{Headers: []string{"X-Token: 1"}}), "GET", "/x", RequestUnknown},
		{"a plain rule beats an unknowable one", point(api.PortRuleHTTP{Host: "a"}, api.PortRuleHTTP{Method: "GET"}), "GET", "/x", RequestAllowed},
		{"no HTTP rules: all requests", NewPoint(Allowed, true, nil, []L7{{Parser: "http"}}), "PUT", "/x", RequestAllowed},
		{"not proxied", Point{Decision: Allowed}, "GET", "/x", RequestAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.p.HTTPRequest(tc.method, tc.path)
			if err != nil || got != tc.want {
				t.Errorf("HTTPRequest(%s %s) = %v, %v; want %v", tc.method, tc.path, got, err, tc.want)
			}
		})
	}
	if _, err := point(api.PortRuleHTTP{Path: "("}).HTTPRequest("GET", "/"); err == nil {
		t.Error("an invalid pattern is not an error")
	}
}

// TestDNSQuery decides lookups with the DNS proxy's own matching.
func TestDNSQuery(t *testing.T) {
	point := func(rules ...api.PortRuleDNS) Point {
		return NewPoint(Allowed, true, nil, []L7{{Parser: "dns", Rules: api.L7Rules{DNS: rules}}})
	}
	local := api.PortRuleDNS{MatchPattern: "**.cluster.local"}
	for _, tc := range []struct {
		name  string
		p     Point
		query string
		want  RequestDecision
	}{
		{"matchName", point(api.PortRuleDNS{MatchName: "api.stripe.com"}), "api.stripe.com", RequestAllowed},
		{"matchName, trailing dot and case", point(api.PortRuleDNS{MatchName: "api.stripe.com"}), "API.Stripe.com.", RequestAllowed},
		{"matchName is exact", point(api.PortRuleDNS{MatchName: "api.stripe.com"}), "x.api.stripe.com", RequestDenied},
		{"* is one label", point(api.PortRuleDNS{MatchPattern: "*.stripe.com"}), "api.stripe.com", RequestAllowed},
		{"* is not two labels", point(api.PortRuleDNS{MatchPattern: "*.stripe.com"}), "a.b.stripe.com", RequestDenied},
		{"** spans labels", point(local), "api.stripe.com.shop.svc.cluster.local", RequestAllowed},
		{"** needs the domain", point(local), "cluster.local.evil.com", RequestDenied},
		{"* alone", point(api.PortRuleDNS{MatchPattern: "*"}), "anything.example", RequestAllowed},
		{"no rules: every lookup", NewPoint(Allowed, true, nil, []L7{{Parser: "dns"}}), "x.y", RequestAllowed},
		{"not proxied", Point{Decision: Allowed}, "x.y", RequestAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.p.DNSQuery(tc.query)
			if err != nil || got != tc.want {
				t.Errorf("DNSQuery(%s) = %v, %v; want %v", tc.query, got, err, tc.want)
			}
		})
	}
}

// TestProbeHTTP: the probe tries unobserved requests next to the observed
// ones and counts those the rules admit: none for an exact template, the
// new segment value for a fold, every same-method variant for a
// method-only rule.
func TestProbeHTTP(t *testing.T) {
	result := func(rules ...api.PortRuleHTTP) Result {
		e := &ir.Edge{ID: "e", L7: &ir.L7{HTTP: []ir.HTTPFact{{Method: "GET", Path: "/api/items/1"}}}}
		in := NewPoint(Allowed, true, nil, []L7{{Parser: "http", Rules: api.L7Rules{HTTP: rules}}})
		return Result{Edge: e, Verdict: Verdict{Egress: Point{Decision: Allowed}, Ingress: in}}
	}
	for _, tc := range []struct {
		name    string
		rule    api.PortRuleHTTP
		allowed int
	}{
		{"template of numbers", api.PortRuleHTTP{Method: "GET", Path: `^/api/items/[0-9]+(\?.*)?$`}, 0},
		{"folded segment", api.PortRuleHTTP{Method: "GET", Path: `^/api/items/[^/]+(\?.*)?$`}, 1},
		{"method only", api.PortRuleHTTP{Method: "GET"}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := ProbeHTTP([]Result{result(tc.rule)})
			// 5 other methods, 3 segments replaced, 1 deeper.
			if rep.Candidates != 9 || rep.Allowed != tc.allowed {
				t.Errorf("candidates %d allowed %d (%v), want 9 and %d", rep.Candidates, rep.Allowed, rep.Examples, tc.allowed)
			}
		})
	}
}
