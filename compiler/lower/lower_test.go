package lower

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/policypilot/ppc/compiler/flows"
	"github.com/policypilot/ppc/ir"
)

func rec(t *testing.T, js string) *flows.Record {
	t.Helper()
	f := new(flowpb.Flow)
	if err := protojson.Unmarshal([]byte(js), f); err != nil {
		t.Fatalf("bad fixture %s: %v", js, err)
	}
	return &flows.Record{Pos: ir.Pos{File: "t.json", Line: 1}, Flow: f}
}

const (
	web = `"source":{"identity":300,"namespace":"shop","labels":["k8s:app=web","k8s:io.kubernetes.pod.namespace=shop","k8s:pod-template-hash=abc"],"pod_name":"web-7d9f8c6b5-x2x9z"}`
	api = `"destination":{"identity":301,"namespace":"shop","labels":["k8s:app=api","k8s:io.kubernetes.pod.namespace=shop"],"pod_name":"api-0"}`
	ip  = `"IP":{"source":"10.0.0.1","destination":"10.0.0.2","ipVersion":"IPv4"}`
	tcp = `"l4":{"TCP":{"source_port":40000,"destination_port":8080,"flags":{"SYN":true}}}`
)

func flow(parts ...string) string { return "{" + strings.Join(parts, ",") + "}" }

func TestSemantics(t *testing.T) {
	ack := `"l4":{"TCP":{"source_port":40000,"destination_port":8080,"flags":{"ACK":true}}}`
	tests := []struct {
		name     string
		flow     string
		opts     Options
		skip     string // the reason the record is counted under, if no edge
		wantEdge string // suffix of the one edge's ID
		wantSrc  string // prefix of its source (default wl:shop/web)
	}{
		{"forwarded", flow(`"verdict":"FORWARDED"`, ip, tcp, web, api), Options{}, "", "TCP/8080", ""},
		{"redirected", flow(`"verdict":"REDIRECTED"`, ip, tcp, web, api), Options{}, "", "TCP/8080", ""},
		{"audit", flow(`"verdict":"AUDIT"`, ip, tcp, web, api), Options{}, "", "TCP/8080", ""},
		// A reply alone stands for its connection, the other way round.
		{"reply by is_reply", flow(`"verdict":"FORWARDED"`, `"is_reply":true`, ip, ack, web, api), Options{}, "", "TCP/40000", "wl:shop/api"},
		{"is_reply false wins over legacy reply", flow(`"verdict":"FORWARDED"`, `"is_reply":false`, `"reply":true`, ip, ack, web, api), Options{}, "", "TCP/8080", ""},
		{"legacy reply", flow(`"verdict":"FORWARDED"`, `"reply":true`, ip, ack, web, api), Options{}, "", "TCP/40000", "wl:shop/api"},
		{"syn-ack is a reply", flow(`"verdict":"FORWARDED"`, ip, `"l4":{"TCP":{"source_port":8080,"destination_port":40000,"flags":{"SYN":true,"ACK":true}}}`, web, api), Options{}, "", "TCP/8080", "wl:shop/api"},
		{"no is_reply, no flags: unknown", flow(`"verdict":"FORWARDED"`, ip, ack, web, api), Options{}, SkipDirectionUnknown, "", ""},
		{"conflicting evidence: unknown", flow(`"verdict":"FORWARDED"`, `"is_reply":true`, ip, tcp, web, api), Options{}, SkipDirectionUnknown, "", ""},
		{"policy denied skipped", flow(`"verdict":"DROPPED"`, `"drop_reason_desc":"POLICY_DENIED"`, ip, tcp, web, api), Options{}, SkipDenied, "", ""},
		{"policy denied included", flow(`"verdict":"DROPPED"`, `"drop_reason_desc":"POLICY_DENIED"`, ip, tcp, web, api), Options{IncludeDenied: true}, "", "TCP/8080", ""},
		{"legacy numeric drop reason", flow(`"verdict":"DROPPED"`, `"drop_reason":133`, ip, tcp, web, api), Options{IncludeDenied: true}, "", "TCP/8080", ""},
		{"explicit deny never learned", flow(`"verdict":"DROPPED"`, `"drop_reason_desc":"POLICY_DENY"`, ip, tcp, web, api), Options{IncludeDenied: true}, SkipExplicitDeny, "", ""},
		{"explicit deny is an attempt for replay", flow(`"verdict":"DROPPED"`, `"drop_reason_desc":"POLICY_DENY"`, ip, tcp, web, api), Options{Attempts: true}, "", "TCP/8080", ""},
		{"policy denied is an attempt for replay", flow(`"verdict":"DROPPED"`, `"drop_reason_desc":"POLICY_DENIED"`, ip, tcp, web, api), Options{Attempts: true}, "", "TCP/8080", ""},
		{"other drop", flow(`"verdict":"DROPPED"`, `"drop_reason_desc":"INVALID_SOURCE_IP"`, ip, tcp, web, api), Options{IncludeDenied: true}, SkipDropped, "", ""},
		{"socket lb trace", flow(`"verdict":"TRACED"`, ip, tcp, web, api), Options{}, SkipSockTrace, "", ""},
		{"l7 response", flow(`"verdict":"FORWARDED"`, ip, tcp, web, api, `"l7":{"type":"RESPONSE","http":{"code":200}}`), Options{}, SkipL7Response, "", ""},
		{"l7 request", flow(`"verdict":"FORWARDED"`, ip, ack, web, api, `"l7":{"type":"REQUEST","http":{"method":"GET","url":"http://api/"}}`), Options{}, "", "TCP/8080", ""},
		{"no l4", flow(`"verdict":"FORWARDED"`, ip, web, api), Options{}, SkipNoL4, "", ""},
		{"port over 65535", flow(`"verdict":"FORWARDED"`, ip, `"l4":{"TCP":{"source_port":40000,"destination_port":70000}}`, web, api), Options{}, SkipBadPort, "", ""},
		{"port 0", flow(`"verdict":"FORWARDED"`, ip, `"l4":{"UDP":{"source_port":40000}}`, web, api), Options{}, SkipBadPort, "", ""},
		{"icmp echo reply", flow(`"verdict":"FORWARDED"`, ip, `"l4":{"ICMPv4":{}}`, web, api), Options{}, SkipICMPRelated, "", ""},
		{"icmp destination unreachable", flow(`"verdict":"FORWARDED"`, ip, `"l4":{"ICMPv4":{"type":3,"code":3}}`, web, api), Options{}, SkipICMPRelated, "", ""},
		{"icmpv6 echo request", flow(`"verdict":"FORWARDED"`, ip, `"l4":{"ICMPv6":{"type":128}}`, web, api), Options{}, "", "ICMPv6/128", ""},
		{"icmpv6 packet too big", flow(`"verdict":"FORWARDED"`, ip, `"l4":{"ICMPv6":{"type":2}}`, web, api), Options{}, SkipICMPRelated, "", ""},
		{"icmp echo request", flow(`"verdict":"FORWARDED"`, ip, `"l4":{"ICMPv4":{"type":8}}`, web, api), Options{}, "", "ICMPv4/8", ""},
		{"both ends outside", flow(`"verdict":"FORWARDED"`, ip, tcp, `"source":{"identity":1,"labels":["reserved:host"]}`, `"destination":{"identity":2,"labels":["reserved:world"]}`), Options{}, SkipNoWorkload, "", ""},
		{"masked peers", flow(`"verdict":"FORWARDED"`, tcp, `"source":{}`, `"destination":{}`), Options{}, SkipUnknownPeer, "", ""},
		{"namespace included", flow(`"verdict":"FORWARDED"`, ip, tcp, web, api), Options{Namespaces: []string{"shop"}}, "", "TCP/8080", ""},
		{"namespace not included", flow(`"verdict":"FORWARDED"`, ip, tcp, web, api), Options{Namespaces: []string{"pay"}}, SkipNamespace, "", ""},
		{"namespace excluded", flow(`"verdict":"FORWARDED"`, ip, tcp, web, api), Options{ExcludeNamespaces: []string{"shop"}}, SkipNamespace, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(tt.opts)
			b.Add(rec(t, tt.flow), nil)
			g := b.Graph()
			if g.Stats.Flows+g.Stats.SkippedTotal() != 1 {
				t.Fatalf("one record counted %d times: flows %d, skipped %v", g.Stats.Flows+g.Stats.SkippedTotal(), g.Stats.Flows, g.Stats.Skipped)
			}
			if ds := ir.Verify(g); len(ds) > 0 {
				t.Error(ds)
			}
			if tt.wantEdge == "" {
				if len(g.Edges) != 0 || g.Stats.Skipped[tt.skip] != 1 {
					t.Errorf("edges %d, skipped %v, want %q", len(g.Edges), g.Stats.Skipped, tt.skip)
				}
				return
			}
			if len(g.Edges) != 1 || g.Stats.Flows != 1 {
				t.Fatalf("edges = %d flows = %d (skipped %v)", len(g.Edges), g.Stats.Flows, g.Stats.Skipped)
			}
			want := tt.wantSrc
			if want == "" {
				want = "wl:shop/web"
			}
			for id, e := range g.Edges {
				if !strings.HasSuffix(id, tt.wantEdge) || !strings.HasPrefix(e.Src, want) {
					t.Errorf("edge %s, want %s… %s", id, want, tt.wantEdge)
				}
			}
		})
	}
}

// Records of real connections as Hubble writes them at several
// observation points, and what they must become.
func TestConnections(t *testing.T) {
	l4 := func(sport, dport int, flags string) string {
		f := ""
		if flags != "" {
			f = `,"flags":{` + flags + `}`
		}
		return fmt.Sprintf(`"l4":{"TCP":{"source_port":%d,"destination_port":%d%s}}`, sport, dport, f)
	}
	fwd := flow(`"verdict":"FORWARDED"`, ip, l4(40000, 8080, `"ACK":true`), web, api) // TO_OVERLAY: no is_reply
	back := `"IP":{"source":"10.0.0.2","destination":"10.0.0.1","ipVersion":"IPv4"}`
	webDst := strings.Replace(web, `"source"`, `"destination"`, 1)
	apiSrc := strings.Replace(api, `"destination"`, `"source"`, 1)
	tests := []struct {
		name  string
		flows []string
		opts  Options
		edges []string // edge ID suffixes with their verdicts, e.g. "TCP/8080 DROPPED=1"
		undec int
		skip  map[string]int64
		dir   map[string]int64
		// denied are the denied attempts, "src -> dst PROTO/port
		// VERDICT=n", endpoints by name
		denied []string
	}{
		{name: "forwarded at the source, dropped at the destination: denied",
			flows:  []string{fwd, flow(`"verdict":"DROPPED"`, `"drop_reason_desc":"POLICY_DENIED"`, ip, l4(40000, 8080, `"SYN":true`), web, api)},
			skip:   map[string]int64{SkipDenied: 1, SkipDroppedElsewhere: 1},
			denied: []string{"web -> api TCP/8080 DROPPED=1"}},
		{name: "a UDP drop with no direction evidence: an attempt by the sender of the dropped packet",
			flows: []string{flow(`"verdict":"DROPPED"`, `"drop_reason_desc":"POLICY_DENIED"`, back,
				`"l4":{"UDP":{"source_port":8080,"destination_port":40000}}`, apiSrc, webDst)},
			skip:   map[string]int64{SkipDenied: 1},
			denied: []string{"api -> web UDP/40000 DROPPED=1"}},
		{name: "an explicit deny: an attempt too",
			flows:  []string{flow(`"verdict":"DROPPED"`, `"drop_reason_desc":"POLICY_DENY"`, ip, l4(40000, 8080, `"SYN":true`), web, api)},
			skip:   map[string]int64{SkipExplicitDeny: 1},
			denied: []string{"web -> api TCP/8080 DROPPED=1"}},
		{name: "denied, learned with --include-denied",
			flows: []string{fwd, flow(`"verdict":"DROPPED"`, `"drop_reason_desc":"POLICY_DENIED"`, ip, l4(40000, 8080, `"SYN":true`), web, api)},
			opts:  Options{IncludeDenied: true}, edges: []string{"TCP/8080 DROPPED=1"},
			skip: map[string]int64{SkipDuplicate: 1}, dir: map[string]int64{ir.ByTCPFlags: 1}},
		{name: "request, trace duplicates and replies: one connection",
			flows: []string{
				flow(`"verdict":"FORWARDED"`, `"is_reply":false`, ip, l4(40000, 8080, `"SYN":true`), web, api),
				fwd,
				flow(`"verdict":"FORWARDED"`, back, l4(8080, 40000, `"SYN":true,"ACK":true`), apiSrc, webDst),
				flow(`"verdict":"FORWARDED"`, `"is_reply":true`, back, l4(8080, 40000, `"ACK":true`), apiSrc, webDst),
			},
			edges: []string{"TCP/8080 FORWARDED=1"},
			skip:  map[string]int64{SkipDuplicate: 1, SkipReply: 2}, dir: map[string]int64{ir.ByIsReply: 1}},
		{name: "a reply at TO_OVERLAY alone: undecided, no rule",
			flows: []string{flow(`"verdict":"FORWARDED"`, back, l4(8080, 40000, `"ACK":true`), apiSrc, webDst)},
			undec: 1, skip: map[string]int64{SkipDirectionUnknown: 1}, dir: map[string]int64{ir.DirectionUnknown: 1}},
		{name: "legacy reply flag on the reverse tuple",
			flows: []string{fwd, flow(`"verdict":"FORWARDED"`, `"reply":true`, back, l4(8080, 40000, `"ACK":true`), apiSrc, webDst)},
			edges: []string{"TCP/8080 FORWARDED=1"},
			skip:  map[string]int64{SkipReply: 1}, dir: map[string]int64{ir.ByReverseTuple: 1}},
		{name: "the same five-tuple after a pause is a new connection",
			flows: []string{
				flow(`"time":"2026-01-01T00:00:00Z"`, `"verdict":"FORWARDED"`, ip, tcp, web, api),
				flow(`"time":"2026-01-01T00:00:10Z"`, `"verdict":"FORWARDED"`, ip, tcp, web, api),
				flow(`"time":"2026-01-01T00:05:00Z"`, `"verdict":"FORWARDED"`, ip, tcp, web, api),
			},
			edges: []string{"TCP/8080 FORWARDED=2"},
			skip:  map[string]int64{SkipDuplicate: 1}, dir: map[string]int64{ir.ByTCPFlags: 2}},
		{name: "audit: would be denied, learned",
			flows: []string{flow(`"verdict":"AUDIT"`, `"is_reply":false`, ip, tcp, web, api), fwd},
			edges: []string{"TCP/8080 AUDIT=1"},
			skip:  map[string]int64{SkipDuplicate: 1}, dir: map[string]int64{ir.ByIsReply: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(tt.opts)
			for _, f := range tt.flows {
				b.Add(rec(t, f), nil)
			}
			g := b.Graph()
			if ds := ir.Verify(g); len(ds) > 0 {
				t.Fatal(ds)
			}
			if got := g.Stats.Flows + g.Stats.SkippedTotal(); got != int64(len(tt.flows)) {
				t.Errorf("%d records counted as %d", len(tt.flows), got)
			}
			var got []string
			for _, e := range g.SortedEdges() {
				got = append(got, fmt.Sprintf("%s/%d %s", e.Protocol, e.Port, fmtCounts(e.Verdicts.Map())))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.edges) {
				t.Errorf("edges %v, want %v", got, tt.edges)
			}
			var denied []string
			for _, e := range g.SortedDenied() {
				denied = append(denied, fmt.Sprintf("%s -> %s %s/%d %s", g.Node(e.Src).Name, g.Node(e.Dst).Name, e.Protocol, e.Port, fmtCounts(e.Verdicts.Map())))
				for _, id := range []string{e.Src, e.Dst} {
					if _, learned := g.Nodes[id]; learned == (g.DeniedNodes[id] != nil) {
						t.Errorf("%s: learned %v, denied-only %v", id, learned, g.DeniedNodes[id] != nil)
					}
				}
			}
			if fmt.Sprint(denied) != fmt.Sprint(tt.denied) {
				t.Errorf("denied %v, want %v", denied, tt.denied)
			}
			if len(g.Undecided) != tt.undec {
				t.Errorf("undecided %d, want %d", len(g.Undecided), tt.undec)
			}
			if fmtCounts(g.Stats.Skipped) != fmtCounts(tt.skip) {
				t.Errorf("skipped %v, want %v", g.Stats.Skipped, tt.skip)
			}
			if fmtCounts(g.Stats.Direction) != fmtCounts(tt.dir) {
				t.Errorf("direction %v, want %v", g.Stats.Direction, tt.dir)
			}
		})
	}
}

func fmtCounts(m map[string]int64) string {
	var ks []string
	for k, v := range m {
		if v != 0 {
			ks = append(ks, fmt.Sprintf("%s=%d", k, v))
		}
	}
	sort.Strings(ks)
	return strings.Join(ks, " ")
}

func TestTraceDuplicatesAreOneConnection(t *testing.T) {
	b := New(Options{DedupeWindow: 2})
	f := flow(`"verdict":"FORWARDED"`, ip, tcp, web, api)
	for i := 0; i < 3; i++ {
		b.Add(rec(t, f), nil)
	}
	// A new source port is a new connection.
	b.Add(rec(t, strings.Replace(f, "40000", "40001", 1)), nil)
	b.Add(rec(t, strings.Replace(f, "40000", "40002", 1)), nil)
	// Once it has left the table, the first connection counts again.
	b.Add(rec(t, f), nil)
	g := b.Graph()
	if g.Stats.Skipped[SkipDuplicate] != 2 || g.Stats.Flows != 4 {
		t.Errorf("skipped %v flows %d", g.Stats.Skipped, g.Stats.Flows)
	}
	// L7 records are requests, never duplicates.
	l7 := flow(`"verdict":"FORWARDED"`, ip, tcp, web, api, `"l7":{"type":"REQUEST","http":{"method":"get","url":"http://api:8080/v1/items?id=3"}}`)
	b.Add(rec(t, l7), nil)
	b.Add(rec(t, l7), nil)
	g = b.Graph()
	for _, e := range g.Edges {
		if e.L7 == nil || len(e.L7.HTTP) != 1 || e.L7.HTTP[0] != (ir.HTTPFact{Method: "GET", Path: "/v1/items"}) {
			t.Errorf("l7 = %+v", e.L7)
		}
		if e.Flows() != 6 {
			t.Errorf("flows = %d", e.Flows())
		}
	}
}

func TestEndpoints(t *testing.T) {
	tests := []struct {
		name string
		dst  string
		ip   string
		want string
	}{
		{"workload labels, volatile kept in IR", api, "10.0.0.2", "wl:shop/api#"},
		{"host", `"destination":{"identity":1,"labels":["reserved:host"]}`, "10.0.0.2", "ent:host"},
		{"host and apiserver", `"destination":{"identity":1,"labels":["reserved:host","reserved:kube-apiserver"]}`, "10.0.0.2", "ent:host+kube-apiserver"},
		{"apiserver outside", `"destination":{"identity":16777217,"labels":["reserved:kube-apiserver","reserved:world"]}`, "10.0.0.2", "ent:kube-apiserver+world"},
		{"identity only (masked labels)", `"destination":{"identity":6}`, "10.0.0.2", "ent:remote-node"},
		{"world with names", `"destination":{"identity":2,"labels":["reserved:world"]},"destination_names":["GitHub.com."]`, "140.82.121.4", "fqdn:github.com"},
		{"world with cidr label", `"destination":{"identity":16777218,"labels":["cidr:104.20.0.0/16","reserved:world"]}`, "104.20.23.154", "cidr:104.20.0.0/16"},
		{"world ipv6 cidr label", `"destination":{"identity":16777219,"labels":["cidr:2001-db8--/32","reserved:world"]}`, "2001:db8::1", "cidr:2001:db8::/32"},
		{"world by address", `"destination":{"identity":2,"labels":["reserved:world"]}`, "203.0.113.7", "cidr:203.0.113.7/32"},
		{"world ipv6 address", `"destination":{"identity":2,"labels":["reserved:world"]}`, "2001:db8::7", "cidr:2001:db8::7/128"},
		{"world without address", `"destination":{"identity":2,"labels":["reserved:world"]}`, "", "ent:world"},
		{"pod seen as world by the proxy", `"destination":{"identity":2,"namespace":"shop","labels":["reserved:world"],"pod_name":"details-v1-79f774bdb9-m4j4k"}`, "10.0.0.9", "wl:shop/details-v1#"},
		{"namespace from label only", `"destination":{"identity":400,"labels":["k8s:app=x","k8s:io.kubernetes.pod.namespace=ns2"]}`, "10.0.0.2", "wl:ns2/x#"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipj := `"IP":{"source":"10.0.0.1","destination":"` + tt.ip + `","ipVersion":"IPv4"}`
			if tt.ip == "" {
				ipj = `"IP":{"source":"10.0.0.1"}`
			}
			b := New(Options{})
			b.Add(rec(t, flow(`"verdict":"FORWARDED"`, ipj, tcp, web, tt.dst)), nil)
			g := b.Graph()
			if len(g.Edges) != 1 {
				t.Fatalf("skipped: %v", g.Stats.Skipped)
			}
			for _, e := range g.Edges {
				if !strings.HasPrefix(e.Dst, tt.want) {
					t.Errorf("dst = %s, want prefix %s", e.Dst, tt.want)
				}
			}
		})
	}
}

func TestDNSAnswersNameAddresses(t *testing.T) {
	b := New(Options{})
	resp := flow(`"verdict":"FORWARDED"`, `"is_reply":true`, ip, `"l4":{"UDP":{"source_port":53,"destination_port":40000}}`, web, api,
		`"l7":{"type":"RESPONSE","dns":{"query":"API.Example.com.","ips":["203.0.113.7","::ffff:203.0.113.8"]}}`)
	if r := b.Add(rec(t, resp), nil); r != SkipReply && r != SkipL7Response {
		t.Fatalf("response not skipped: %q", r)
	}
	g := b.Graph()
	if got := g.DNS["203.0.113.7"]; len(got) != 1 || got[0] != "api.example.com" {
		t.Errorf("dns = %v", g.DNS)
	}
	if got := g.DNS["203.0.113.8"]; len(got) != 1 {
		t.Errorf("v4-mapped address not unmapped: %v", g.DNS)
	}
}

func TestPodBase(t *testing.T) {
	for in, want := range map[string]string{
		"reviews-v1-545db77b95-s6jb8": "reviews-v1",
		"node-local-dns-88zrp":        "node-local-dns",
		"prometheus-0":                "prometheus",
		"xwing":                       "xwing",
		"coredns-558bd4d5db-w2m67":    "coredns",
	} {
		if got := podBase(in); got != want {
			t.Errorf("podBase(%q) = %q, want %q", in, got, want)
		}
	}
}
