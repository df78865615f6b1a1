package schemas

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

const validPolicy = `{"apiVersion":"cilium.io/v2","kind":"CiliumNetworkPolicy",
"metadata":{"name":"api","namespace":"shop","labels":{"app.kubernetes.io/managed-by":"ppc"},"annotations":{"a":"b"}},
"spec":{"endpointSelector":{"matchLabels":{"app":"api"}},
"ingress":[{"fromEndpoints":[{"matchLabels":{"app":"web"}}],"toPorts":[{"ports":[{"port":"8080","protocol":"TCP"}]}]},
  {"fromEntities":["host"],"icmps":[{"fields":[{"type":8,"family":"IPv4"}]}]}],
"egress":[{"toEndpoints":[{"matchLabels":{"k8s:io.kubernetes.pod.namespace":"kube-system","k8s:k8s-app":"kube-dns"}}],
  "toPorts":[{"ports":[{"port":"53","protocol":"UDP"},{"port":"53","protocol":"TCP"}],"rules":{"dns":[{"matchPattern":"*"}]}}]},
 {"toFQDNs":[{"matchName":"api.github.com"}],"toPorts":[{"ports":[{"port":"443","protocol":"TCP"}]}]},
 {"toCIDR":["203.0.113.7/32"],"toPorts":[{"ports":[{"port":"5432","protocol":"TCP"}]}]}]}}`

// ppcCases are single violations of validPolicy, each at its path.
var ppcCases = []struct {
	name     string
	from, to string
	wantPath string
	wantMsg  string
}{
	{name: "valid"},
	{"port out of range", `"port":"8080"`, `"port":"99999"`, "spec.ingress[0].toPorts[0].ports[0].port", "out of bound <=65535"},
	{"port zero", `"port":"8080"`, `"port":"0"`, "spec.ingress[0].toPorts[0].ports[0].port", ""},
	{"bad protocol", `"protocol":"TCP"}]}]},`, `"protocol":"ICMP"}]}]},`, "spec.ingress[0].toPorts[0].ports[0].protocol", ""},
	{"unknown field", `"fromEntities":["host"]`, `"fromEntities":["host"],"fromEndpointz":[]`, "spec.ingress[1].fromEndpointz", "field not allowed"},
	{"bad entity", `"fromEntities":["host"]`, `"fromEntities":["wrld"]`, "spec.ingress[1].fromEntities[0]", ""},
	{"no peer", `{"fromEntities":["host"],`, `{`, "spec.ingress[1]", ""},
	{"two peers", `{"fromEntities":["host"],`, `{"fromEntities":["host"],"fromCIDR":["10.0.0.0/8"],`, "spec.ingress[1]", ""},
	{"bare ip cidr", `"203.0.113.7/32"`, `"203.0.113.7"`, "spec.egress[2].toCIDR[0]", ""},
	{"empty selector", `"endpointSelector":{"matchLabels":{"app":"api"}}`, `"endpointSelector":{"matchLabels":{}}`, "spec.endpointSelector.matchLabels", ""},
	{"bad label key", `{"app":"web"}`, `{"bad key":"web"}`, `spec.ingress[0].fromEndpoints[0].matchLabels."bad key"`, ""},
	{"long label value", `{"app":"web"}`, `{"app":"` + strings.Repeat("x", 64) + `"}`, "spec.ingress[0].fromEndpoints[0].matchLabels.app", ""},
	{"uppercase name", `"name":"api"`, `"name":"API"`, "metadata.name", ""},
	{"not managed", `"app.kubernetes.io/managed-by":"ppc"`, `"x":"y"`, "metadata.labels.\"app.kubernetes.io/managed-by\"", ""},
	{"l3 only rule", `,"toPorts":[{"ports":[{"port":"443","protocol":"TCP"}]}]}`, `}`, "spec.egress[1]", ""},
	{"bad fqdn", `"matchName":"api.github.com"`, `"matchName":"api github.com"`, "spec.egress[1].toFQDNs[0].matchName", ""},
}

func TestPPCSchema(t *testing.T) {
	tests := ppcCases
	s := PPC()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := validPolicy
			if tt.from != "" {
				if !strings.Contains(doc, tt.from) {
					t.Fatalf("fixture lacks %q", tt.from)
				}
				doc = strings.Replace(doc, tt.from, tt.to, 1)
			}
			vs, err := s.Validate("p.json", []byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantPath == "" {
				if len(vs) > 0 {
					t.Fatalf("valid policy rejected: %+v", vs)
				}
				return
			}
			for _, v := range vs {
				if join(v.Path) == tt.wantPath && strings.Contains(v.Msg, tt.wantMsg) {
					return
				}
			}
			t.Fatalf("want a violation at %s (%q), got %+v", tt.wantPath, tt.wantMsg, vs)
		})
	}
}

func join(p []string) string {
	var b strings.Builder
	for i, s := range p {
		if i > 0 && !strings.HasPrefix(s, "[") {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

func TestDisjunctionAndMatchNMessages(t *testing.T) {
	doc := strings.Replace(validPolicy, `"protocol":"TCP"}]}]},`, `"protocol":"ICMP"}]}]},`, 1)
	doc = strings.Replace(doc, `{"fromEntities":["host"],`, `{`, 1)
	vs, err := PPC().Validate("p.json", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, join(v.Path)+": "+v.Msg)
	}
	want := []string{
		`spec.ingress[0].toPorts[0].ports[0].protocol: invalid value "ICMP": want one of "ANY", "SCTP", "TCP", "UDP"`,
		`spec.ingress[1]: a rule must name exactly one kind of peer: fromEndpoints, fromEntities, fromCIDR or fromCIDRSet (or be empty)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestMemoSameViolations: ppc's schema remembers the rules and selectors
// it found valid (knownValid); what it reports must be exactly what
// validating every policy whole reports, cold and warm, for valid
// policies and for every kind of violation, alone and together.
func TestMemoSameViolations(t *testing.T) {
	whole, err := newSchema("ppc", commentMsgs("schemas/ppc.cue", ppcCUE), buildPPC)
	if err != nil {
		t.Fatal(err)
	}
	docs := []string{validPolicy}
	all := validPolicy
	for _, c := range ppcCases {
		if c.from == "" {
			continue
		}
		docs = append(docs, strings.Replace(validPolicy, c.from, c.to, 1))
		all = strings.Replace(all, c.from, c.to, 1)
	}
	docs = append(docs, all, `{"spec":{"ingress":["x",{"fromEndpoints":[1,{"matchLabels":{"app":"web"}}]}]}}`, `[]`, `{"spec":7}`)
	s, _ := newSchema("ppc", commentMsgs("schemas/ppc.cue", ppcCUE), buildPPC)
	s.memo = &validMemo{}
	for pass := 0; pass < 2; pass++ { // cold, then warm
		for i, d := range docs {
			want, werr := whole.Validate("p.json", []byte(d))
			got, gerr := s.Validate("p.json", []byte(d))
			if (werr == nil) != (gerr == nil) {
				t.Fatalf("doc %d: error %v, want %v", i, gerr, werr)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("doc %d pass %d:\n got %v\nwant %v", i, pass, got, want)
			}
		}
	}
	if s.memo.Bytes() == 0 {
		t.Fatal("nothing remembered: the memo is not used")
	}
}

// TestMemoSkeletons: once a policy is known valid, another of its shape
// with new workloads, ports, addresses and names costs CUE only the new
// values, not its selectors, rules or whole (the memo's point: CUE takes
// 0.1–0.5 ms for each of those, 10–20 µs for a string).
func TestMemoSkeletons(t *testing.T) {
	s, err := newSchema("ppc", commentMsgs("schemas/ppc.cue", ppcCUE), buildPPC)
	if err != nil {
		t.Fatal(err)
	}
	s.memo = &validMemo{}
	var checked []string
	s.memo.trace = func(key string) { checked = append(checked, key) }
	validate := func(doc string) []string {
		t.Helper()
		checked = nil
		vs, err := s.Validate("p.json", []byte(doc))
		if err != nil || len(vs) > 0 {
			t.Fatalf("valid policy rejected: %v %v", err, vs)
		}
		return checked
	}
	if got := validate(validPolicy); len(got) < 20 {
		t.Fatalf("first policy: %d parts validated; want every part", len(got))
	}
	// The skeletons settle once the smallest instances are known: a
	// part met before a smaller one of its kind was known by the larger.
	validate(validPolicy)
	if got := validate(validPolicy); len(got) != 0 {
		t.Fatalf("the same policy a third time: validated %q, want nothing", got)
	}
	other := validPolicy
	for _, r := range [][2]string{
		{`"name":"api"`, `"name":"api2"`}, {`"app":"api"`, `"app":"api2"`}, {`"app":"web"`, `"app":"web2"`},
		{`"port":"8080"`, `"port":"8081"`}, {`203.0.113.7/32`, `203.0.113.8/32`}, {`"matchName":"api.github.com"`, `"matchName":"api2.github.com"`},
	} {
		other = strings.Replace(other, r[0], r[1], 1)
	}
	got := validate(other)
	var values []string
	for _, k := range got {
		_, v, _ := strings.Cut(k, "\x00")
		_, str, isString := strings.Cut(k, "\x01")
		switch {
		case isString:
			values = append(values, str)
		case v == `{"port":"8081","protocol":"TCP"}` || v == `{"matchName":"api2.github.com"}`:
			values = append(values, v)
		default:
			t.Errorf("validated %s: only the new values should be", v)
		}
	}
	sort.Strings(values)
	want := []string{"203.0.113.8/32", "api2", "api2", "web2", `{"matchName":"api2.github.com"}`, `{"port":"8081","protocol":"TCP"}`}
	if fmt.Sprint(values) != fmt.Sprint(want) {
		t.Errorf("validated %q, want %q (the policy's name, the label values of its endpoint selector and of a peer, a port, an address, a DNS name)", values, want)
	}
}

// FuzzMemoSameViolations: on any document, ppc's schema reports with its
// memo (warm with the valid policy) exactly what it reports validating
// every document whole.
func FuzzMemoSameViolations(f *testing.F) {
	f.Add([]byte(validPolicy))
	for _, c := range ppcCases {
		if c.from != "" {
			f.Add([]byte(strings.Replace(validPolicy, c.from, c.to, 1)))
		}
	}
	whole, err := newSchema("ppc", commentMsgs("schemas/ppc.cue", ppcCUE), buildPPC)
	if err != nil {
		f.Fatal(err)
	}
	s, _ := newSchema("ppc", commentMsgs("schemas/ppc.cue", ppcCUE), buildPPC)
	s.memo = &validMemo{}
	for i := 0; i < 3; i++ {
		if _, err := s.Validate("p.json", []byte(validPolicy)); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, werr := whole.Validate("p.json", b)
		got, gerr := s.Validate("p.json", b)
		if (werr == nil) != (gerr == nil) || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("with the memo: %v %v\nwhole: %v %v", got, gerr, want, werr)
		}
	})
}
