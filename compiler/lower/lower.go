package lower

import (
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"

	"github.com/policypilot/ppc/compiler/flows"
	"github.com/policypilot/ppc/ir"
)

// Options control lowering.
type Options struct {
	// IncludeDenied makes connections dropped with drop reason
	// POLICY_DENIED define policy too (the audit-mode workflow: learn what a
	// default-deny policy blocked).
	IncludeDenied bool
	// Attempts makes every connection attempt count, whatever the
	// cluster's policies did to it: POLICY_DENIED and explicit-deny
	// (POLICY_DENY) drops included. Replay uses it: the question there is
	// what the policies under test would do with each attempt.
	Attempts bool
	// Namespaces, when set, keeps only flows with a workload endpoint in one
	// of these namespaces.
	Namespaces []string
	// ExcludeNamespaces drops flows whose workload endpoints are all in these
	// namespaces.
	ExcludeNamespaces []string
	// DedupeWindow is how many connections are tracked at once to join
	// the records of one connection (default 65536): the oldest is decided
	// when a new one comes.
	DedupeWindow int
	// ConnWindow is how long a five-tuple stays one connection after its
	// last record (default one minute): a record later than that starts a
	// new connection.
	ConnWindow time.Duration
}

// Skip reasons, as counted in ir.Stats.Skipped.
const (
	SkipReply            = ir.SkipReply
	SkipDuplicate        = ir.SkipDuplicate
	SkipDirectionUnknown = ir.SkipDirectionUnknown
	SkipDenied           = "dropped by policy (use --include-denied)"
	SkipDroppedElsewhere = "forwarded here, dropped by policy elsewhere (the connection was denied)"
	SkipExplicitDeny     = "dropped by an explicit deny rule"
	SkipDropped          = "dropped (not by policy)"
	SkipSockTrace        = "socket-lb trace (TRACED/TRANSLATED)"
	SkipVerdict          = "verdict not a connection attempt"
	SkipNoL4             = "no TCP/UDP/SCTP/ICMP layer"
	SkipBadPort          = "destination port 0 or over 65535, or ICMP type over 255 (not a real connection)"
	SkipUnknownPeer      = "endpoint unknown (no identity, labels, namespace or address)"
	SkipNoWorkload       = "no workload endpoint (both ends outside the cluster)"
	SkipNamespace        = "namespace filtered out"
	SkipAggregated       = "aggregated flow summary (no addresses)"
	SkipL7Response       = "L7 response"
	SkipInvalidAddress   = "invalid IP address"
	SkipICMPRelated      = "ICMP reply or error (related to another connection)"
)

// Builder lowers a stream of records into a graph. Records of one
// connection (the same five-tuple in either direction, within
// Options.ConnWindow) are joined: the connection's direction and fate are
// decided from all of them (see conn.go), and it becomes one observation.
type Builder struct {
	opts  Options
	g     *ir.Graph
	win   *window
	conns slab[conn] // by window ring entry
	incNS map[string]bool
	excNS map[string]bool
}

// fiveTuple is the key of the connection table, in canonical order (the
// lower address and port first). It holds no pointers, so the garbage
// collector does not scan the table.
type fiveTuple struct {
	src, dst     [16]byte
	sport, dport uint32
	proto        uint8
	v4           uint8 // bit 0: src is IPv4, bit 1: dst is (not IPv4-mapped IPv6)
}

// New returns a builder with an empty graph.
func New(opts Options) *Builder {
	if opts.DedupeWindow <= 0 {
		opts.DedupeWindow = 1 << 16
	}
	if opts.ConnWindow <= 0 {
		opts.ConnWindow = time.Minute
	}
	b := &Builder{opts: opts, g: ir.New(), win: newWindow(opts.DedupeWindow)}
	if len(opts.Namespaces) > 0 {
		b.incNS = map[string]bool{}
		for _, n := range opts.Namespaces {
			b.incNS[n] = true
		}
	}
	b.excNS = map[string]bool{}
	for _, n := range opts.ExcludeNamespaces {
		b.excNS[n] = true
	}
	return b
}

// Graph decides the connections still open and returns the graph built
// so far.
func (b *Builder) Graph() *ir.Graph {
	b.flush()
	b.g.SettleDenied()
	return b.g
}

// AddSource records an input name in the graph's provenance.
func (b *Builder) AddSource(name string) {
	if !slices.Contains(b.g.Sources, name) {
		b.g.Sources = append(b.g.Sources, name)
		slices.Sort(b.g.Sources)
	}
}

// AddSummary adds an ingest summary (records read, non-flow records,
// malformed records) to the graph's statistics.
func (b *Builder) AddSummary(s flows.Summary) {
	b.g.Stats.Records += s.Records
	for k, n := range s.NonFlow {
		for range n {
			b.g.Stats.Skip("non-flow record: " + k)
		}
	}
	for range s.Malformed {
		b.g.Stats.Skip("malformed record")
	}
}

// Add lowers one record. It returns the skip reason of a record that is
// not part of any connection, or "": the record joined a connection,
// which is counted when it is decided (when it leaves the connection
// table, or at Graph). p is the record's flow prepared where it was read
// (flows.ReadPrepared with Preparer), or nil: it is prepared here.
func (b *Builder) Add(rec *flows.Record, p *Prepared) string {
	if p == nil {
		p = b.Prepare(rec.Flow)
	}
	reason := b.add(rec.Pos, p)
	if reason != "" {
		b.g.Stats.Skip(reason)
	}
	return reason
}

// Prepared is what lowering a flow needs that depends on the flow alone:
// computed by Prepare, possibly on another goroutine, then applied in
// input order by Add (which keeps the state: DNS names, the duplicate
// window, the graph).
type Prepared struct {
	skip     string     // the skip reason before duplicate detection
	dns      *dnsAnswer // set for a DNS answer that names addresses
	src, dst *ir.Node
	edge     string // the ID of the edge the flow observes
	// What the observation holds besides its position and endpoints.
	protocol, verdict, dnsQuery string
	time                        time.Time
	http                        *ir.HTTPFact
	port, sport                 uint16
	// Direction evidence and fate of the record (see conn.go).
	request, reply evidence
	fate           fate
	// The five-tuple and its hash, when the record joins a connection;
	// reversed: the record runs against the tuple's canonical order.
	joined     bool
	reversed   bool
	aggregated bool
	hash       uint32
	key        fiveTuple
}

// dnsAnswer is the names a DNS answer gives world addresses.
type dnsAnswer struct {
	query string   // normalized
	ips   []string // unmapped
}

// Prepare does the part of lowering f that depends on f alone. It is safe
// for concurrent use.
func (b *Builder) Prepare(f *flowpb.Flow) *Prepared { return b.prepareFlow(f, nil) }

func (b *Builder) prepareFlow(f *flowpb.Flow, m *memo) *Prepared {
	p := m.alloc()
	if f.GetAggregate() != nil && f.GetIP() == nil {
		p.aggregated = true
		return p
	}
	l7 := f.GetL7()
	// DNS answers name the addresses behind world peers, even though the
	// response itself is a reply and defines no policy.
	if dns := l7.GetDns(); dns != nil && len(dns.GetIps()) > 0 {
		if q := normName(dns.GetQuery()); q != "" {
			p.dns = &dnsAnswer{query: q}
			for _, ip := range dns.GetIps() {
				if a, err := netip.ParseAddr(ip); err == nil {
					p.dns.ips = append(p.dns.ips, a.Unmap().String())
				}
			}
		}
	}
	p.skip = b.prepare(f, l7, p, m)
	return p
}

// Preparer returns Prepare for one decoding goroutine, as
// flows.ReadPrepared takes it. It keeps nothing of the flows' own
// messages. It remembers what the endpoints it saw lowered to (a reader
// hands the same *flowpb.Endpoint to every flow that carries the same
// endpoint bytes) and the IDs of the edges it saw.
func (b *Builder) Preparer() func(*flowpb.Flow) *Prepared {
	m := &memo{}
	return func(f *flowpb.Flow) *Prepared { return b.prepareFlow(f, m) }
}

// memo remembers, for one goroutine, the endpoints it lowered (by
// pointer) and the edge IDs it made; it hands out Prepared values from
// slabs (one allocation for many flows).
type memo struct {
	nodes map[*flowpb.Endpoint]*ir.Node
	edges map[edgeKey]string
	slab  []Prepared
}

// edgeKey is what an edge ID is made of.
type edgeKey struct {
	src, dst *ir.Node
	protocol string
	port     uint16
}

// maxMemo bounds a memo's maps; each starts afresh when full.
const maxMemo = 8192

// remember adds k to a memo's map, which starts afresh when full; it
// returns the map.
func remember[K comparable, V any](m map[K]V, k K, v V) map[K]V {
	if m == nil || len(m) >= maxMemo {
		m = map[K]V{}
	}
	m[k] = v
	return m
}

// slabSize is how many Prepared values one allocation makes.
const slabSize = 256

// alloc returns a new Prepared.
func (m *memo) alloc() *Prepared {
	if m == nil {
		return &Prepared{}
	}
	if len(m.slab) == 0 {
		m.slab = make([]Prepared, slabSize)
	}
	p := &m.slab[0]
	m.slab = m.slab[1:]
	return p
}

// edgeID is ir.EdgeID, remembered for nodes of this memo (m.node).
func (m *memo) edgeID(src, dst *ir.Node, protocol string, port uint16) string {
	k := edgeKey{src, dst, protocol, port}
	id, ok := m.edges[k]
	if !ok {
		id = ir.EdgeID(src.ID, dst.ID, protocol, port)
		m.edges = remember(m.edges, k, id)
	}
	return id
}

// node lowers an endpoint that depends on its own fields alone (see
// ownEndpoint), or returns nil.
func (m *memo) node(ep *flowpb.Endpoint) *ir.Node {
	if m == nil {
		return ownEndpoint(ep)
	}
	n, ok := m.nodes[ep]
	if !ok {
		n = ownEndpoint(ep)
		m.nodes = remember(m.nodes, ep, n)
	}
	return n // shared by the flows of ep: add copies it into the graph
}

func (b *Builder) prepare(f *flowpb.Flow, l7 *flowpb.Layer7, p *Prepared, m *memo) string {
	ft, r := verdictFate(f)
	if r != "" {
		return r
	}
	if l7.GetType() == flowpb.L7FlowType_RESPONSE {
		return SkipL7Response
	}
	proto, port, ok := l4(f)
	if !ok {
		if proto != "" {
			return SkipBadPort
		}
		return SkipNoL4
	}
	if icmpNotRequest(proto, port) {
		return SkipICMPRelated
	}
	src, srcShared, r := endpoint(m, f.GetSource(), f.GetIP().GetSource(), f.GetSourceNames())
	if r != "" {
		return r
	}
	dst, dstShared, r := endpoint(m, f.GetDestination(), f.GetIP().GetDestination(), f.GetDestinationNames())
	if r != "" {
		return r
	}
	if src.Kind != ir.KindWorkload && dst.Kind != ir.KindWorkload {
		return SkipNoWorkload
	}
	if !b.nsAllowed(src, dst) {
		return SkipNamespace
	}
	p.src, p.dst = src, dst
	p.protocol, p.port, p.sport, p.verdict, p.fate = proto, port, sourcePort(f), f.GetVerdict().String(), ft
	if srcShared && dstShared {
		p.edge = m.edgeID(src, dst, proto, port)
	} else {
		p.edge = ir.EdgeID(src.ID, dst.ID, proto, port)
	}
	if t := f.GetTime(); t != nil {
		p.time = t.AsTime().UTC()
	}
	p.request, p.reply = recordEvidence(f, proto)
	if l7 != nil {
		// An L7 request: the proxy terminated the connection and knows
		// its client. Each request is an observation of its own.
		p.request |= evL7
		if h := l7.GetHttp(); h != nil && h.GetMethod() != "" {
			p.http = &ir.HTTPFact{Method: strings.ToUpper(h.GetMethod()), Path: urlPath(h.GetUrl())}
		}
		if d := l7.GetDns(); d != nil {
			p.dnsQuery = normName(d.GetQuery())
		}
	} else if p.key, p.reversed, p.joined = fiveTupleOf(f); p.joined {
		p.hash = b.win.hash(p.key)
	}
	return ""
}

// add applies a prepared flow, in input order.
func (b *Builder) add(pos ir.Pos, p *Prepared) string {
	if p.aggregated {
		return SkipAggregated
	}
	if p.dns != nil {
		for _, ip := range p.dns.ips {
			b.g.AddDNS(ip, p.dns.query)
		}
	}
	if p.skip != "" {
		return p.skip
	}
	if !p.joined {
		// Nothing to join it with (an L7 request, masked addresses): a
		// connection of one record.
		var c conn
		c.add(pos, p)
		b.resolve(&c)
		return ""
	}
	e, found, evicted := b.win.add(p.key, p.hash)
	if e == b.conns.len() {
		b.conns.push(conn{})
	}
	c := b.conns.at(e)
	switch {
	case evicted:
		b.resolve(c)
		*c = conn{}
	case found && c.stale(p.time, b.opts.ConnWindow):
		// The five-tuple again, after a pause: a new connection.
		b.resolve(c)
		*c = conn{}
	}
	c.add(pos, p)
	return ""
}

// flush decides every connection still in the table, and empties it.
func (b *Builder) flush() {
	for i := range b.conns.len() {
		b.resolve(b.conns.at(i))
	}
	b.conns.reset()
	b.win.reset()
}

// addNode adds a prepared node to the graph. Prepared nodes may be shared
// by many flows (see memo): a node new to the graph is copied into it.
func (b *Builder) addNode(n *ir.Node) *ir.Node {
	if _, ok := b.g.Nodes[n.ID]; !ok {
		c := *n
		c.Pods = slices.Clone(n.Pods)
		n = &c
	}
	return b.g.AddWorkloadNode(n)
}

// verdictFate classifies a record by its verdict: a connection attempt
// (with the fate a policy drop gives its connection), or a skip reason.
func verdictFate(f *flowpb.Flow) (fate, string) {
	switch f.GetVerdict() {
	case flowpb.Verdict_FORWARDED, flowpb.Verdict_REDIRECTED, flowpb.Verdict_AUDIT:
		return fateNone, ""
	case flowpb.Verdict_DROPPED:
		// drop_reason is deprecated but is all that older Hubble versions
		// (and some exporters' field masks) give.
		switch {
		//lint:ignore SA1019 the legacy field is read on purpose (see above)
		case f.GetDropReasonDesc() == flowpb.DropReason_POLICY_DENIED || f.GetDropReason() == uint32(flowpb.DropReason_POLICY_DENIED):
			return fateDenied, ""
		//lint:ignore SA1019 the legacy field is read on purpose (see above)
		case f.GetDropReasonDesc() == flowpb.DropReason_POLICY_DENY || f.GetDropReason() == uint32(flowpb.DropReason_POLICY_DENY):
			return fateExplicitDeny, ""
		}
		return fateNone, SkipDropped
	case flowpb.Verdict_TRACED, flowpb.Verdict_TRANSLATED:
		return fateNone, SkipSockTrace
	}
	return fateNone, SkipVerdict
}

// recordEvidence is what one record says about its own direction:
// request evidence (is_reply false; TCP SYN without ACK; an ICMP request
// type) and reply evidence (is_reply true, or the legacy reply flag
// before Cilium 1.9; TCP SYN-ACK). An absent is_reply says nothing: Hubble
// leaves it out where conntrack was not consulted (TO_OVERLAY, TO_STACK,
// drops) and field masks drop it.
func recordEvidence(f *flowpb.Flow, proto string) (request, reply evidence) {
	if r := f.GetIsReply(); r != nil {
		if r.GetValue() {
			reply |= evIsReply
		} else {
			request |= evIsReply
		}
		//lint:ignore SA1019 flows from agents before Cilium 1.9 carry only the deprecated reply flag
	} else if f.GetReply() {
		reply |= evIsReply
	}
	if fl := f.GetL4().GetTCP().GetFlags(); fl != nil && fl.GetSYN() {
		if fl.GetACK() {
			reply |= evTCPFlags
		} else {
			request |= evTCPFlags
		}
	}
	if proto == "ICMPv4" || proto == "ICMPv6" {
		request |= evICMP
	}
	return request, reply
}

func sourcePort(f *flowpb.Flow) uint16 {
	l := f.GetL4()
	switch {
	case l.GetTCP() != nil:
		return uint16(l.GetTCP().GetSourcePort())
	case l.GetUDP() != nil:
		return uint16(l.GetUDP().GetSourcePort())
	case l.GetSCTP() != nil:
		return uint16(l.GetSCTP().GetSourcePort())
	}
	return 0
}

func l4(f *flowpb.Flow) (string, uint16, bool) {
	l := f.GetL4()
	switch {
	case l.GetTCP() != nil:
		return "TCP", uint16(l.GetTCP().GetDestinationPort()), l.GetTCP().GetDestinationPort() > 0 && l.GetTCP().GetDestinationPort() < 65536
	case l.GetUDP() != nil:
		return "UDP", uint16(l.GetUDP().GetDestinationPort()), l.GetUDP().GetDestinationPort() > 0 && l.GetUDP().GetDestinationPort() < 65536
	case l.GetSCTP() != nil:
		return "SCTP", uint16(l.GetSCTP().GetDestinationPort()), l.GetSCTP().GetDestinationPort() > 0 && l.GetSCTP().GetDestinationPort() < 65536
	case l.GetICMPv4() != nil:
		return "ICMPv4", uint16(l.GetICMPv4().GetType()), l.GetICMPv4().GetType() < 256
	case l.GetICMPv6() != nil:
		return "ICMPv6", uint16(l.GetICMPv6().GetType()), l.GetICMPv6().GetType() < 256
	}
	return "", 0, false
}

// fiveTupleOf is the key of the connection table in canonical order,
// whether the flow runs against that order, and false when the flow has
// none (masked addresses). ICMP requests are keyed by addresses and type.
func fiveTupleOf(f *flowpb.Flow) (fiveTuple, bool, bool) {
	var k fiveTuple
	src, _ := netip.ParseAddr(f.GetIP().GetSource())
	dst, _ := netip.ParseAddr(f.GetIP().GetDestination())
	// Hubble writes addresses without zones; one with a zone is not
	// joined (every such flow is a connection of its own).
	if !src.IsValid() || !dst.IsValid() || src.Zone() != "" || dst.Zone() != "" {
		return k, false, false
	}
	l := f.GetL4()
	switch {
	case l.GetTCP() != nil:
		k.proto, k.sport, k.dport = 6, l.GetTCP().GetSourcePort(), l.GetTCP().GetDestinationPort()
	case l.GetUDP() != nil:
		k.proto, k.sport, k.dport = 17, l.GetUDP().GetSourcePort(), l.GetUDP().GetDestinationPort()
	case l.GetSCTP() != nil:
		k.proto, k.sport, k.dport = 132, l.GetSCTP().GetSourcePort(), l.GetSCTP().GetDestinationPort()
	case l.GetICMPv4() != nil:
		k.proto, k.dport = 1, l.GetICMPv4().GetType()
	case l.GetICMPv6() != nil:
		k.proto, k.dport = 58, l.GetICMPv6().GetType()
	default:
		return k, false, false
	}
	reversed := false
	if c := src.Compare(dst); c > 0 || c == 0 && k.sport > k.dport {
		src, dst, k.sport, k.dport, reversed = dst, src, k.dport, k.sport, true
	}
	k.src, k.dst = src.As16(), dst.As16()
	if src.Is4() {
		k.v4 |= 1
	}
	if dst.Is4() {
		k.v4 |= 2
	}
	return k, reversed, true
}

func (b *Builder) nsAllowed(src, dst *ir.Node) bool {
	ok := false
	for _, n := range []*ir.Node{src, dst} {
		if n.Kind != ir.KindWorkload {
			continue
		}
		if b.incNS != nil && !b.incNS[n.Namespace] {
			continue
		}
		if b.excNS[n.Namespace] {
			continue
		}
		ok = true
	}
	return ok
}

// reservedByID maps Cilium's fixed reserved identities to entities.
var reservedByID = map[uint32]string{
	1: "host", 2: "world", 3: "unmanaged", 4: "health", 5: "init", 6: "remote-node",
	7: "kube-apiserver", 8: "ingress", 9: "world", 10: "world",
}

// endpoint classifies one end of a flow. It returns a node (not yet in the
// graph) or a skip reason.
func endpoint(m *memo, ep *flowpb.Endpoint, ip string, names []string) (n *ir.Node, shared bool, skip string) {
	if n := m.node(ep); n != nil {
		return n, m != nil, ""
	}
	_, _, world, cidr := classify(ep)
	if world || cidr != "" || (ep.GetIdentity() == 0 && len(names) > 0) {
		for _, n := range names {
			if n = normName(n); n != "" {
				return &ir.Node{ID: ir.FQDNID(n), Kind: ir.KindFQDN, FQDN: n}, false, ""
			}
		}
		if cidr == "" && ip != "" {
			a, err := netip.ParseAddr(ip)
			if err != nil {
				return nil, false, SkipInvalidAddress
			}
			a = a.Unmap()
			cidr = netip.PrefixFrom(a, a.BitLen()).String()
		}
		if cidr != "" {
			return &ir.Node{ID: ir.CIDRID(cidr), Kind: ir.KindCIDR, CIDR: cidr}, false, ""
		}
		return &ir.Node{ID: ir.EntityID([]string{"world"}), Kind: ir.KindEntity, Entities: []string{"world"}}, false, ""
	}
	return nil, false, SkipUnknownPeer
}

// classify sorts an endpoint's labels: k8s labels, reserved entities
// (world aside), world, and the CIDR of its (last) cidr label. Without any
// of those, a fixed reserved identity stands for its entity.
func classify(ep *flowpb.Endpoint) (k8s, entities []string, world bool, cidr string) {
	for _, l := range ep.GetLabels() {
		src, kv, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		switch src {
		case "k8s":
			k8s = append(k8s, l)
		case "reserved":
			switch kv {
			case "world", "world-ipv4", "world-ipv6":
				world = true
			default:
				entities = append(entities, kv)
			}
		case "cidr":
			cidr = labelCIDR(kv)
		}
	}
	if len(k8s) == 0 && len(entities) == 0 && !world && cidr == "" {
		if e, ok := reservedByID[ep.GetIdentity()]; ok {
			if e == "world" {
				world = true
			} else {
				entities = append(entities, e)
			}
		}
	}
	return k8s, entities, world, cidr
}

// ownEndpoint lowers the endpoints whose node depends on the endpoint
// alone — a workload (its namespace known) or reserved entities without
// workload labels — and returns nil for the others (world, CIDR and FQDN
// peers, which depend on the flow's address and DNS names).
func ownEndpoint(ep *flowpb.Endpoint) *ir.Node {
	k8s, entities, world, _ := classify(ep)
	ns := ep.GetNamespace()
	if ns == "" {
		for _, l := range k8s {
			if v, ok := strings.CutPrefix(l, "k8s:io.kubernetes.pod.namespace="); ok {
				ns = v
			}
		}
	}
	switch {
	case len(entities) > 0 && len(k8s) == 0:
		if world {
			entities = append(entities, "world")
		}
		slices.Sort(entities)
		entities = slices.Compact(entities)
		return &ir.Node{ID: ir.EntityID(entities), Kind: ir.KindEntity, Entities: entities}
	case ns != "":
		slices.Sort(k8s)
		k8s = slices.Compact(k8s)
		name := workloadName(k8s, ep)
		n := &ir.Node{ID: ir.WorkloadID(ns, name, k8s), Kind: ir.KindWorkload, Namespace: ns, Name: name, Labels: k8s}
		if c := controllerName(ep); c != "" {
			n.Pods = []string{c}
		}
		return n
	}
	return nil
}

// labelCIDR parses Hubble's cidr label value ("10.0.0.0/8"; IPv6 with "-"
// for ":") into canonical prefix form, or "".
func labelCIDR(v string) string {
	if strings.Count(v, "-") > 0 && !strings.Contains(v, ".") {
		v = strings.ReplaceAll(v, "-", ":")
	}
	p, err := netip.ParsePrefix(v)
	if err != nil {
		return ""
	}
	return p.Masked().String()
}

// nameKeys are the label keys whose value names a workload, best first.
var nameKeys = []string{"k8s:app.kubernetes.io/name", "k8s:app", "k8s:k8s-app", "k8s:name", "k8s:io.cilium.k8s.policy.serviceaccount"}

// workloadName derives a readable name. With labels it depends only on the
// labels (so one identity gets one ID however its pods are named); without
// (field-masked exports) it falls back to the controller or pod name.
func workloadName(labels []string, ep *flowpb.Endpoint) string {
	if len(labels) > 0 {
		for _, k := range nameKeys {
			for _, l := range labels {
				if v, ok := strings.CutPrefix(l, k+"="); ok && v != "" {
					return v
				}
			}
		}
		return "workload"
	}
	if c := controllerName(ep); c != "" {
		return c
	}
	return "workload"
}

// controllerName is the name of the controller behind a pod: Hubble's
// workloads field when present, else the pod name without generated
// suffixes.
func controllerName(ep *flowpb.Endpoint) string {
	for _, w := range ep.GetWorkloads() {
		if w.GetName() != "" {
			return w.GetName()
		}
	}
	if p := ep.GetPodName(); p != "" {
		return podBase(p)
	}
	return ""
}

// podBase strips the generated suffixes of a pod name: a Deployment's
// "-<replicaset hash>-<5 chars>", a DaemonSet's or Job's "-<5 chars>", or a
// StatefulSet's "-<ordinal>".
func podBase(p string) string {
	parts := strings.Split(p, "-")
	isSuffix := func(s string, min, max int) bool {
		if len(s) < min || len(s) > max {
			return false
		}
		for _, c := range s {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
				return false
			}
		}
		return true
	}
	n := len(parts)
	switch {
	case n >= 3 && isSuffix(parts[n-1], 5, 5) && isSuffix(parts[n-2], 6, 10):
		return strings.Join(parts[:n-2], "-")
	case n >= 2 && isSuffix(parts[n-1], 5, 5):
		return strings.Join(parts[:n-1], "-")
	case n >= 2:
		if _, err := strconv.Atoi(parts[n-1]); err == nil {
			return strings.Join(parts[:n-1], "-")
		}
	}
	return p
}

// normName lower-cases a DNS name and drops its trailing dot.
func normName(n string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(n)), ".")
}

// urlPath extracts the path of an HTTP URL as Hubble reports it (full URL
// with scheme and host).
func urlPath(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Path == "" {
		if i := strings.IndexAny(u, "?#"); i >= 0 {
			u = u[:i]
		}
		if u == "" {
			return "/"
		}
		return u
	}
	return p.EscapedPath()
}

// icmpNotRequest reports ICMP messages that answer or report on other
// traffic (echo replies, destination unreachable, time exceeded, …):
// conntrack treats them as related, so they define no policy.
func icmpNotRequest(proto string, typ uint16) bool {
	switch proto {
	case "ICMPv4":
		switch typ {
		case 0, 3, 4, 5, 11, 12, 14, 16, 18:
			return true
		}
	case "ICMPv6":
		return typ < 128 || typ == 129
	}
	return false
}
