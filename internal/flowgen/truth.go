package flowgen

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"time"
)

// Pair is one connection pattern of the ground truth: namespace/app of
// the client (or "world"), namespace/app of the server, and the server's
// port.
type Pair struct {
	Src, Dst string
	Port     int
}

// Truth is what really happened in a Scenario capture.
type Truth struct {
	// Allowed are the pairs that talked: policies must allow them.
	Allowed []Pair
	// Denied are the pairs the cluster's policies dropped (at the
	// destination, after the source node forwarded them): policies must
	// not allow them.
	Denied []Pair
	// WorldClients is how many distinct internet addresses reached the
	// public service (Public); a new one must be allowed too.
	WorldClients int
	Public       Pair
	// Named is a service outside the cluster that a workload reaches by
	// a name it resolves through the DNS proxy: toFQDNs must allow it.
	Named External
	// External is a service outside the cluster that a workload (Src)
	// reaches by address, with no DNS name in the flows, on Port: the
	// addresses it was seen reaching (Addrs) must be allowed, Far (outside
	// their /24) must not.
	External External
	// Clusters are the clusters the capture spans.
	Clusters []string
	// Anomalous are the workloads whose behaviour a reviewer must see
	// (the attacker; with ProbeScenario, the prober too).
	Anomalous []string
	// Probed are the targets the prober tried, dropped by policy
	// (ProbeScenario).
	Probed []Pair
}

// External is a peer outside the cluster: a workload (Src) reaches it on
// Port, by Name or at Addrs; Far is an address nobody reached.
type External struct {
	Src, Name string
	Addrs     []string
	Far       string
	Port      int
}

// scenario workloads: namespace, app, node, address, listening port.
type swl struct {
	ns, app string
	node    int
	ip      string
	port    int
}

// Scenario writes what Hubble Relay writes for an Online Boutique shop
// (13 workloads, Prometheus among them, plus kube-dns and an attacker) on two nodes,
// connection by connection, with the semantics real captures have: each
// connection recorded at the source node (TO_OVERLAY, no is_reply) and at
// the destination node (TO_ENDPOINT, is_reply false), replies likewise
// (TO_OVERLAY without is_reply, TO_ENDPOINT with is_reply true), DNS
// lookups, many internet clients of the public frontend, an attacker in
// another namespace whose attempts are forwarded at its node and dropped
// by policy at the destination, and a scraper whose replies are the only
// records of some of its connections. It returns the ground truth.
func Scenario(w io.Writer, conns int, seed uint64) (Truth, error) {
	return scenario(w, conns, seed, false)
}

// ProbeScenario is Scenario with one more misbehaving pod among the normal
// traffic: the recommendation service, which otherwise only reads the
// catalog, probes services and ports it never talks to (one connection in
// fifty), each attempt dropped by policy at the destination.
func ProbeScenario(w io.Writer, conns int, seed uint64) (Truth, error) {
	return scenario(w, conns, seed, true)
}

// probes are the prober's targets: scenario workload and port.
var probes = []struct {
	to   string
	port int
}{
	{"redis", 6379}, {"payment", 50051}, {"email", 5000}, {"currency", 7000}, {"ad", 9555},
	{"shipping", 50051}, {"checkout", 5050}, {"catalog", 22}, {"catalog", 3306}, {"catalog", 5432},
	{"catalog", 8443}, {"cart", 2379},
}

func scenario(w io.Writer, conns int, seed uint64, probe bool) (Truth, error) {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	wl := map[string]*swl{
		"frontend":   {"shop", "frontend", 1, "10.1.1.10", 8080},
		"cart":       {"shop", "cartservice", 2, "10.1.2.20", 7070},
		"redis":      {"shop", "redis-cart", 2, "10.1.2.30", 6379},
		"checkout":   {"shop", "checkoutservice", 1, "10.1.1.40", 5050},
		"payment":    {"shop", "paymentservice", 2, "10.1.2.50", 50051},
		"prometheus": {"monitoring", "prometheus", 1, "10.1.1.60", 9090},
		"catalog":    {"shop", "productcatalogservice", 2, "10.1.2.70", 3550},
		"currency":   {"shop", "currencyservice", 1, "10.1.1.71", 7000},
		"shipping":   {"shop", "shippingservice", 2, "10.1.2.72", 50051},
		"email":      {"shop", "emailservice", 1, "10.1.1.73", 5000},
		"recommend":  {"shop", "recommendationservice", 2, "10.1.2.74", 8080},
		"ad":         {"shop", "adservice", 1, "10.1.1.75", 9555},
		"loadgen":    {"shop", "loadgenerator", 2, "10.1.2.76", 0},
		"reporter":   {"analytics", "reporter", 3, "10.2.3.80", 0}, // in the second cluster
		"attacker":   {"sandbox", "attacker", 1, "10.1.1.66", 0},
		"dns":        {"kube-system", "kube-dns", 2, "10.1.2.53", 53},
	}
	calls := []struct {
		from, to string
		port     int
	}{
		{"frontend", "cart", 7070}, {"cart", "redis", 6379}, {"frontend", "checkout", 5050},
		{"checkout", "payment", 50051}, {"checkout", "cart", 7070}, {"prometheus", "redis", 9121},
		{"frontend", "catalog", 3550}, {"frontend", "currency", 7000}, {"frontend", "shipping", 50051},
		{"frontend", "recommend", 8080}, {"frontend", "ad", 9555}, {"checkout", "catalog", 3550},
		{"checkout", "currency", 7000}, {"checkout", "shipping", 50051}, {"checkout", "email", 5000},
		{"recommend", "catalog", 3550}, {"loadgen", "frontend", 8080}, {"prometheus", "frontend", 9090},
	}
	dnsClients := []string{"frontend", "cart", "checkout", "payment", "recommend", "loadgen"}
	t := Truth{Public: Pair{"world", "shop/frontend", 8080}}
	for _, c := range calls {
		t.Allowed = append(t.Allowed, Pair{wl[c.from].ns + "/" + wl[c.from].app, wl[c.to].ns + "/" + wl[c.to].app, c.port})
	}
	for _, name := range dnsClients {
		t.Allowed = append(t.Allowed, Pair{wl[name].ns + "/" + wl[name].app, "kube-system/kube-dns", 53})
	}
	t.Clusters = []string{"shop-dr", "shop-prod"}
	t.Allowed = append(t.Allowed, Pair{"shop-dr/analytics/reporter", "shop/productcatalogservice", 3550})
	t.Named = External{Src: "shop/checkoutservice", Name: "api.partner.example", Port: 443}
	t.Denied = []Pair{{"sandbox/attacker", "shop/redis-cart", 6379}, {"sandbox/attacker", "shop/cartservice", 7070}}
	t.Anomalous = []string{"sandbox/attacker"}
	if probe {
		t.Anomalous = append(t.Anomalous, "shop/recommendationservice")
		for _, p := range probes {
			t.Probed = append(t.Probed, Pair{"shop/recommendationservice", wl[p.to].ns + "/" + wl[p.to].app, p.port})
		}
		t.Denied = append(t.Denied, t.Probed...)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	clients, ext := map[string]bool{}, map[string]bool{}
	for k := 0; k < conns; k++ {
		at := t0.Add(time.Duration(k) * 7 * time.Millisecond)
		sport := 32768 + r.IntN(28232)
		if probe && r.IntN(50) == 0 {
			p := probes[r.IntN(len(probes))]
			s, d := wl["recommend"], wl[p.to]
			conn(bw, at, s.ip, sEP(s), s.node, d.ip, sEP(d), d.node, "TCP", sport, p.port, "POLICY_DENIED")
			continue
		}
		switch x := r.IntN(100); {
		case x < 20: // an internet client of the public frontend
			ip := fmt.Sprintf("198.51.100.%d", 1+r.IntN(60))
			clients[ip] = true
			fe := wl["frontend"]
			conn(bw, at, ip, worldScn, 0, fe.ip, sEP(fe), fe.node, "TCP", sport, fe.port, "")
		case x < 30: // DNS lookup
			c := wl[dnsClients[r.IntN(len(dnsClients))]]
			conn(bw, at, c.ip, sEP(c), c.node, wl["dns"].ip, sEP(wl["dns"]), 2, "UDP", sport, 53, "")
		case x < 34: // the attacker, dropped at the destination
			a := wl["attacker"]
			d := wl["redis"]
			if r.IntN(2) == 0 {
				d = wl["cart"]
			}
			conn(bw, at, a.ip, sEP(a), a.node, d.ip, sEP(d), d.node, "TCP", sport, d.port, "POLICY_DENIED")
		case x < 38: // a scrape whose request went unrecorded: only the replies
			p, d := wl["prometheus"], wl["redis"]
			replyOnly(bw, at, p.ip, sEP(p), p.node, d.ip, sEP(d), d.node, sport, 9121)
		case x < 41: // the payment gateway, by address
			p := wl["payment"]
			ip := fmt.Sprintf("203.0.113.%d", 10+r.IntN(4))
			ext[ip] = true
			egressWorld(bw, at, p.ip, sEP(p), p.node, ip, sport, 443, "")
		case x < 44: // the second cluster's reporter reads the catalog
			s, d := wl["reporter"], wl["catalog"]
			conn(bw, at, s.ip, sEP(s), s.node, d.ip, sEP(d), d.node, "TCP", sport, d.port, "")
		case x < 47: // a partner API by name: DNS through the proxy, then the connection
			c, d := wl["checkout"], wl["dns"]
			dnsProxy(bw, at, c.ip, sEP(c), c.node, d.ip, sEP(d), sport, t.Named.Name, "192.0.2.50")
			egressWorld(bw, at.Add(2*time.Millisecond), c.ip, sEP(c), c.node, "192.0.2.50", sport+1, 443, t.Named.Name)
		default:
			c := calls[r.IntN(len(calls))]
			s, d := wl[c.from], wl[c.to]
			conn(bw, at, s.ip, sEP(s), s.node, d.ip, sEP(d), d.node, "TCP", sport, c.port, "")
		}
	}
	t.WorldClients = len(clients)
	t.External.Src, t.External.Port, t.External.Far = "shop/paymentservice", 443, "203.0.114.10"
	for ip := range ext {
		t.External.Addrs = append(t.External.Addrs, ip)
	}
	sort.Strings(t.External.Addrs)
	return t, bw.Flush()
}

func sEP(w *swl) string {
	return fmt.Sprintf(`{"identity":%d,"namespace":"%s","labels":["k8s:app=%s","k8s:io.cilium.k8s.policy.cluster=%s","k8s:io.kubernetes.pod.namespace=%s"],"pod_name":"%s-0"}`,
		10000+len(w.app)*97+int(w.ip[len(w.ip)-1]), w.ns, w.app, clusterOf(w.node), w.ns, w.app)
}

// clusterOf is the cluster of a scenario node: nodes 1 and 2 are
// shop-prod's, node 3 the second cluster's (ClusterMesh).
func clusterOf(node int) string {
	if node == 3 {
		return "shop-dr"
	}
	return "shop-prod"
}

const worldScn = `{"identity":2,"labels":["reserved:world"]}`

// rec writes one record.
func rec(w *bufio.Writer, at time.Time, node int, verdict, point, sip, src, dip, dst, proto string, sport, dport int, flags, reply, drop string) {
	l4 := fmt.Sprintf(`{"%s":{"source_port":%d,"destination_port":%d}}`, proto, sport, dport)
	if proto == "TCP" {
		l4 = fmt.Sprintf(`{"TCP":{"source_port":%d,"destination_port":%d,"flags":{%s}}}`, sport, dport, flags)
	}
	extra := ""
	if point != "" {
		extra += `,"trace_observation_point":"` + point + `"`
	}
	if reply != "" {
		extra += `,"is_reply":` + reply
	}
	if drop != "" {
		extra += `,"drop_reason_desc":"` + drop + `"`
	}
	ts := at.Format(time.RFC3339Nano)
	fmt.Fprintf(w, `{"flow":{"time":"%s","verdict":"%s","IP":{"source":"%s","destination":"%s","ipVersion":"IPv4"},"l4":%s,"source":%s,"destination":%s,"Type":"L3_L4","node_name":"%s/node-%d"%s},"node_name":"%s/node-%d","time":"%s"}`+"\n",
		ts, verdict, sip, dip, l4, src, dst, clusterOf(node), node, extra, clusterOf(node), node, ts)
}

// conn writes one connection as both nodes record it. drop, when set, is
// the drop reason at the destination: the source node still forwards.
func conn(w *bufio.Writer, at time.Time, sip, src string, snode int, dip, dst string, dnode int, proto string, sport, dport int, drop string) {
	us := time.Microsecond
	if snode != 0 && snode != dnode {
		rec(w, at, snode, "FORWARDED", "TO_OVERLAY", sip, src, dip, dst, proto, sport, dport, `"SYN":true`, "", "")
	}
	if drop != "" {
		rec(w, at.Add(300*us), dnode, "DROPPED", "", sip, src, dip, dst, proto, sport, dport, `"SYN":true`, "", drop)
		return
	}
	rec(w, at.Add(300*us), dnode, "FORWARDED", "TO_ENDPOINT", sip, src, dip, dst, proto, sport, dport, `"SYN":true`, "false", "")
	// The reply leaves the destination node without is_reply (TO_OVERLAY
	// or, to the internet, TO_STACK) and reaches the client with it.
	point := "TO_OVERLAY"
	if snode == 0 {
		point = "TO_STACK"
	}
	rec(w, at.Add(500*us), dnode, "FORWARDED", point, dip, dst, sip, src, proto, dport, sport, `"SYN":true,"ACK":true`, "", "")
	rec(w, at.Add(600*us), dnode, "FORWARDED", point, dip, dst, sip, src, proto, dport, sport, `"ACK":true`, "", "")
	if snode != 0 && snode != dnode {
		rec(w, at.Add(800*us), snode, "FORWARDED", "TO_ENDPOINT", dip, dst, sip, src, proto, dport, sport, `"ACK":true`, "true", "")
	}
}

// replyOnly writes only the replies of a connection, as the destination
// node's TO_OVERLAY records them (no is_reply, no SYN).
func replyOnly(w *bufio.Writer, at time.Time, sip, src string, snode int, dip, dst string, dnode int, sport, dport int) {
	for i := range 3 {
		rec(w, at.Add(time.Duration(i)*time.Millisecond), dnode, "FORWARDED", "TO_OVERLAY", dip, dst, sip, src, "TCP", dport, sport, `"PSH":true,"ACK":true`, "", "")
	}
}

// egressWorld writes a connection from a pod to an address outside the
// cluster as the pod's node records it: the request leaving to the stack
// without is_reply, the reply coming back with is_reply true.
func egressWorld(w *bufio.Writer, at time.Time, sip, src string, snode int, dip string, sport, dport int, name string) {
	us := time.Microsecond
	dst := worldScn
	if name != "" { // the name the FQDN cache holds for the address
		dst = worldScn + `,"destination_names":["` + name + `"]`
	}
	rec(w, at, snode, "FORWARDED", "TO_STACK", sip, src, dip, dst, "TCP", sport, dport, `"SYN":true`, "", "")
	rec(w, at.Add(900*us), snode, "FORWARDED", "TO_ENDPOINT", dip, worldScn, sip, src, "TCP", dport, sport, `"SYN":true,"ACK":true`, "true", "")
	rec(w, at.Add(950*us), snode, "FORWARDED", "TO_STACK", sip, src, dip, dst, "TCP", sport, dport, `"ACK":true`, "", "")
}

// dnsProxy writes a lookup through Cilium's DNS proxy as the client's node
// records it: the query redirected to the proxy (REDIRECTED, TO_PROXY),
// the proxy's L7 request and its L7 response (server to client,
// is_reply true) with the answer.
func dnsProxy(w *bufio.Writer, at time.Time, cip, client string, cnode int, dip, server string, sport int, name, answer string) {
	rec(w, at, cnode, "REDIRECTED", "TO_PROXY", cip, client, dip, server, "UDP", sport, 53, "", "false", "")
	l7 := func(at time.Time, typ, sip, src, dip, dst string, sp, dp int, reply, dns string) {
		ts := at.Format(time.RFC3339Nano)
		node := fmt.Sprintf("%s/node-%d", clusterOf(cnode), cnode)
		fmt.Fprintf(w, `{"flow":{"time":"%s","verdict":"FORWARDED","IP":{"source":"%s","destination":"%s","ipVersion":"IPv4"},"l4":{"UDP":{"source_port":%d,"destination_port":%d}},"source":%s,"destination":%s,"Type":"L7","node_name":"%s","l7":{"type":"%s","dns":%s},"event_type":{"type":129},"traffic_direction":"EGRESS","is_reply":%s},"node_name":"%s","time":"%s"}`+"\n",
			ts, sip, dip, sp, dp, src, dst, node, typ, dns, reply, node, ts)
	}
	l7(at.Add(100*time.Microsecond), "REQUEST", cip, client, dip, server, sport, 53, "false", `{"query":"`+name+`.","observation_source":"proxy","qtypes":["A"]}`)
	l7(at.Add(900*time.Microsecond), "RESPONSE", dip, server, cip, client, 53, sport, "true", `{"query":"`+name+`.","ips":["`+answer+`"],"ttl":30,"observation_source":"proxy","qtypes":["A"],"rrtypes":["A"]}`)
}
