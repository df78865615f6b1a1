package ir

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Version is the version of the IR's JSON form. Readers reject other versions.
const Version = 2

// Kind classifies an endpoint.
type Kind string

// Endpoint kinds.
const (
	// KindWorkload is a Cilium-managed endpoint in the cluster: a set of pods
	// that share one security identity (namespace plus identity labels).
	KindWorkload Kind = "workload"
	// KindEntity is a reserved identity: host, remote-node, kube-apiserver,
	// health, world, ingress, init, unmanaged.
	KindEntity Kind = "entity"
	// KindCIDR is a peer outside the cluster known only by address.
	KindCIDR Kind = "cidr"
	// KindFQDN is a peer outside the cluster known by a DNS name.
	KindFQDN Kind = "fqdn"
)

// MaxSamples bounds how many sample positions an edge keeps.
const MaxSamples = 3

// MaxPods bounds how many controller names a workload node keeps.
const MaxPods = 16

// MaxL7Facts bounds how many distinct L7 facts (HTTP method+path pairs, DNS
// names) an edge keeps; beyond it the edge is marked truncated.
const MaxL7Facts = 64

// Node is an endpoint of the graph.
type Node struct {
	ID   string `json:"id"`
	Kind Kind   `json:"kind"`
	// Namespace of a workload.
	Namespace string `json:"namespace,omitempty"`
	// Name is a human-readable hint for a workload (its controller's name
	// when Hubble reported one); it never selects anything.
	Name string `json:"name,omitempty"`
	// Labels of a workload, in Cilium's "source:key=value" form, sorted.
	Labels []string `json:"labels,omitempty"`
	// Pods are the controller names (Deployment, StatefulSet, … as far as
	// the flows tell) seen behind a workload, sorted, at most MaxPods. They
	// never select anything; the resolve-pods pass uses them to attach
	// flows whose endpoint lacked labels to the workload.
	Pods []string `json:"pods,omitempty"`
	// Entities of a reserved peer, sorted (a peer may carry several, e.g.
	// host and kube-apiserver).
	Entities []string `json:"entities,omitempty"`
	// CIDR of a cidr peer, in prefix form.
	CIDR string `json:"cidr,omitempty"`
	// FQDN of an fqdn peer: lower case, no trailing dot.
	FQDN string `json:"fqdn,omitempty"`
}

// HTTPFact is one HTTP request shape observed on an edge.
type HTTPFact struct {
	Method string `json:"method"`
	Path   string `json:"path"`
}

// L7 holds the application-layer facts observed on an edge.
type L7 struct {
	HTTP      []HTTPFact `json:"http,omitempty"`
	DNS       []string   `json:"dns,omitempty"` // query names, lower case, no trailing dot
	Truncated bool       `json:"truncated,omitempty"`
}

// Edge is a connection pattern: a source endpoint reaching a destination on
// a protocol and port, with its provenance.
type Edge struct {
	ID       string `json:"id"`
	Src      string `json:"src"`
	Dst      string `json:"dst"`
	Protocol string `json:"protocol"` // TCP, UDP, SCTP, ICMPv4, ICMPv6
	// Port is the destination port, or the ICMP type for ICMP edges.
	Port uint16 `json:"port"`
	// Flows counts the observations that define the edge, by verdict.
	Verdicts Counts `json:"verdicts"`
	// FirstSeen and LastSeen bound the observation times (zero if the flows
	// carried no time, e.g. field-masked exports).
	FirstSeen time.Time `json:"first_seen,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	// Samples are up to MaxSamples positions of flows behind the edge: the
	// smallest by file and line, so that merging is order-independent.
	Samples []Pos `json:"samples,omitempty"`
	L7      *L7   `json:"l7,omitempty"`
	// Direction counts the connections by the evidence that decided
	// which end opened them (ByIsReply, ByTCPFlags, …).
	Direction Counts `json:"direction,omitempty"`
}

// Flows returns the number of connections behind the edge (each
// connection is one observation, however many records Hubble wrote of it).
func (e *Edge) Flows() int64 {
	return e.Verdicts.Total()
}

// Stats counts what was read and what was skipped, by reason. Every
// record read is counted once: as the one record that stands for its
// connection (Flows), or under a skip reason (the other records of a
// connection count as replies or trace duplicates).
type Stats struct {
	Records int64            `json:"records"` // JSON values read
	Flows   int64            `json:"flows"`   // connections that became edge observations
	Skipped map[string]int64 `json:"skipped,omitempty"`
	// Direction counts connections by the evidence that decided their
	// direction (DirectionUnknown: nothing did).
	Direction map[string]int64 `json:"direction,omitempty"`
}

// Skip counts one record skipped for reason.
func (s *Stats) Skip(reason string) {
	if s.Skipped == nil {
		s.Skipped = map[string]int64{}
	}
	s.Skipped[reason]++
}

// SkippedTotal is the number of records skipped for any reason.
func (s *Stats) SkippedTotal() int64 {
	var n int64
	for _, c := range s.Skipped {
		n += c
	}
	return n
}

// Graph is the IR: endpoints and edges keyed by ID, plus the DNS knowledge
// (address to names) gathered while lowering, and ingest statistics.
type Graph struct {
	Nodes map[string]*Node
	Edges map[string]*Edge
	// Undecided are the connections whose direction is not known (yet):
	// they define no policy.
	Undecided map[string]*Undecided
	// Denied are the connection attempts a policy of the cluster dropped
	// and lowering did not learn (without --include-denied): keyed and
	// shaped like Edges, from the endpoint that tried to the one it tried
	// to reach. They define no policy; the anomaly detectors read them (a
	// pod probing what it never otherwise talks to). Their endpoints are
	// nodes of the graph: in Nodes, or when only denied attempts name
	// them, in DeniedNodes.
	Denied map[string]*Edge
	// DeniedNodes are the endpoints only denied attempts name (see
	// SettleDenied). Keeping them out of Nodes keeps every stage that
	// works on what was learned (identities, policies, replay, the probe)
	// exactly as it is without them.
	DeniedNodes map[string]*Node
	// DNS maps an IP address to the DNS names it was seen answering for.
	DNS   map[string][]string
	Stats Stats
	// Sources names the inputs the graph was learned from.
	Sources []string
}

// New returns an empty graph.
func New() *Graph {
	return &Graph{Nodes: map[string]*Node{}, Edges: map[string]*Edge{}, Undecided: map[string]*Undecided{}, Denied: map[string]*Edge{}, DNS: map[string][]string{}}
}

// WorkloadID is the ID of a workload with the given namespace, name hint and
// labels. The label hash makes the ID independent of the order flows arrive
// in and distinguishes identities that share a name (e.g. two versions).
func WorkloadID(namespace, name string, labels []string) string {
	h := sha256.New()
	for _, l := range labels {
		h.Write([]byte(l))
		h.Write([]byte{0})
	}
	return "wl:" + namespace + "/" + name + "#" + hex.EncodeToString(h.Sum(nil))[:8]
}

// EntityID is the ID of a reserved peer carrying the given entities.
func EntityID(entities []string) string { return "ent:" + strings.Join(entities, "+") }

// CIDRID is the ID of a CIDR peer.
func CIDRID(prefix string) string { return "cidr:" + prefix }

// FQDNID is the ID of an FQDN peer.
func FQDNID(name string) string { return "fqdn:" + name }

// EdgeID is the ID of the edge from src to dst on protocol/port.
func EdgeID(src, dst, protocol string, port uint16) string {
	return src + " -> " + dst + " " + protocol + "/" + strconv.Itoa(int(port))
}

// AddNode inserts n unless a node with its ID exists, and returns the node
// stored in the graph.
func (g *Graph) AddNode(n *Node) *Node {
	if old, ok := g.Nodes[n.ID]; ok {
		return old
	}
	g.Nodes[n.ID] = n
	return n
}

// AddWorkloadNode is AddNode that also unions the controller names of a
// workload seen again.
func (g *Graph) AddWorkloadNode(n *Node) *Node {
	old := g.AddNode(n)
	if old != n {
		for _, p := range n.Pods {
			old.Pods, _ = insertSorted(old.Pods, p, MaxPods, false)
		}
	}
	return old
}

// Observation is one flow's contribution to an edge.
type Observation struct {
	Src, Dst string
	Protocol string
	Port     uint16
	Verdict  string
	Time     time.Time
	// Until is the time of the connection's last record (zero: Time).
	Until    time.Time
	Pos      Pos
	HTTP     *HTTPFact
	DNSQuery string
	// Direction is the evidence kind that decided the connection's
	// direction ("" for none).
	Direction string
}

// Observe adds an observation to the edge it belongs to, creating the edge
// on first sight. Both endpoints must already be nodes of g.
func (g *Graph) Observe(o Observation) *Edge {
	return g.ObserveEdge(EdgeID(o.Src, o.Dst, o.Protocol, o.Port), o)
}

// ObserveEdge is Observe for a caller that computed the edge's ID
// (EdgeID of the observation's endpoints, protocol and port).
func (g *Graph) ObserveEdge(id string, o Observation) *Edge {
	return observe(g.Edges, id, o)
}

// ObserveDenied adds a connection attempt a policy dropped (one lowering
// does not learn) to g.Denied, under its edge ID. Both endpoints must
// already be nodes of g.
func (g *Graph) ObserveDenied(id string, o Observation) *Edge {
	if g.Denied == nil {
		g.Denied = map[string]*Edge{}
	}
	return observe(g.Denied, id, o)
}

func observe(m map[string]*Edge, id string, o Observation) *Edge {
	e, ok := m[id]
	if !ok {
		e = &Edge{ID: id, Src: o.Src, Dst: o.Dst, Protocol: o.Protocol, Port: o.Port, Verdicts: Counts{}}
		m[id] = e
	}
	e.Verdicts.Add(o.Verdict, 1)
	e.countDirection(o.Direction, 1)
	e.seen(o.Time)
	e.seen(o.Until)
	e.addSample(o.Pos)
	if o.HTTP != nil {
		e.addHTTP(*o.HTTP)
	}
	if o.DNSQuery != "" {
		e.addDNS(o.DNSQuery)
	}
	return e
}

func (e *Edge) seen(t time.Time) { e.FirstSeen, e.LastSeen = widen(e.FirstSeen, e.LastSeen, t) }

func (e *Edge) addSample(p Pos) { e.Samples = addSample(e.Samples, p) }

// AddSample inserts p into the sorted sample list ss, keeping the
// MaxSamples smallest positions.
func AddSample(ss []Pos, p Pos) []Pos { return addSample(ss, p) }

// addSample inserts p into the sorted sample list ss, keeping the
// MaxSamples smallest positions.
func addSample(ss []Pos, p Pos) []Pos {
	if !p.IsValid() {
		return ss
	}
	i := sort.Search(len(ss), func(i int) bool { return !ss[i].Less(p) })
	if i < len(ss) && ss[i] == p {
		return ss
	}
	if i >= MaxSamples {
		return ss
	}
	if len(ss) < MaxSamples {
		if len(ss) == cap(ss) {
			// Room for at most MaxSamples: append's doubling would leave
			// room for four, a quarter of the samples' memory unused on
			// every edge with three (16 MB at 500k connections).
			ns := make([]Pos, len(ss), min(max(2*len(ss), 1), MaxSamples))
			copy(ns, ss)
			ss = ns
		}
		ss = ss[:len(ss)+1]
	}
	copy(ss[i+1:], ss[i:]) // a full list drops its last
	ss[i] = p
	return ss
}

func (e *Edge) l7() *L7 {
	if e.L7 == nil {
		e.L7 = &L7{}
	}
	return e.L7
}

func (e *Edge) addHTTP(f HTTPFact) {
	l := e.l7()
	less := func(a, b HTTPFact) bool { return a.Method < b.Method || a.Method == b.Method && a.Path < b.Path }
	i := sort.Search(len(l.HTTP), func(i int) bool { return !less(l.HTTP[i], f) })
	if i < len(l.HTTP) && l.HTTP[i] == f {
		return
	}
	if len(l.HTTP) >= MaxL7Facts {
		l.Truncated = true
		if i >= MaxL7Facts {
			return
		}
		l.HTTP = l.HTTP[:MaxL7Facts-1]
	}
	l.HTTP = append(l.HTTP, HTTPFact{})
	copy(l.HTTP[i+1:], l.HTTP[i:])
	l.HTTP[i] = f
}

func (e *Edge) addDNS(name string) {
	l := e.l7()
	l.DNS, l.Truncated = insertSorted(l.DNS, name, MaxL7Facts, l.Truncated)
}

// insertSorted inserts s into the sorted, de-duplicated list xs, keeping at
// most max smallest elements; truncated becomes true when one is dropped.
func insertSorted(xs []string, s string, max int, truncated bool) ([]string, bool) {
	i := sort.SearchStrings(xs, s)
	if i < len(xs) && xs[i] == s {
		return xs, truncated
	}
	if len(xs) >= max {
		truncated = true
		if i >= max {
			return xs, truncated
		}
		xs = xs[:max-1]
	}
	xs = append(xs, "")
	copy(xs[i+1:], xs[i:])
	xs[i] = s
	return xs, truncated
}

// AddDNS records that ip answered for name.
func (g *Graph) AddDNS(ip, name string) {
	g.DNS[ip], _ = insertSorted(g.DNS[ip], name, MaxL7Facts, false)
}

// SortedNodes returns the nodes ordered by ID.
func (g *Graph) SortedNodes() []*Node { return byID(g.Nodes) }

// byID returns the values of m (keyed by their IDs) in ID order.
func byID[V any](m map[string]V) []V {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]V, len(ids))
	for i, id := range ids {
		out[i] = m[id]
	}
	return out
}

// SortedEdges returns the edges ordered by ID.
func (g *Graph) SortedEdges() []*Edge { return sortedEdges(g.Edges) }

// SortedDenied returns the denied attempts ordered by ID.
func (g *Graph) SortedDenied() []*Edge { return sortedEdges(g.Denied) }

func sortedEdges(m map[string]*Edge) []*Edge { return byID(m) }

// Node returns the node with the given ID, whether learned connections
// (Nodes) or only denied attempts (DeniedNodes) name it; nil if none.
func (g *Graph) Node(id string) *Node {
	if n, ok := g.Nodes[id]; ok {
		return n
	}
	return g.DeniedNodes[id]
}

// SettleDenied puts every endpoint where it belongs: a node that only
// denied attempts name moves from Nodes to DeniedNodes, one that a
// learned edge or undecided connection names moves back to Nodes, and a
// denied-only node no attempt names any more is dropped. Lowering, Merge
// and the prune pass call it; it is idempotent.
func (g *Graph) SettleDenied() {
	learned := make(map[string]bool, len(g.Nodes))
	for _, e := range g.Edges {
		learned[e.Src], learned[e.Dst] = true, true
	}
	for _, u := range g.Undecided {
		learned[u.A], learned[u.B] = true, true
	}
	for id, n := range g.DeniedNodes {
		if learned[id] {
			moveNode(g.DeniedNodes, g.Nodes, id, n)
		}
	}
	denied := map[string]bool{}
	for _, e := range g.Denied {
		denied[e.Src], denied[e.Dst] = true, true
	}
	for id := range denied {
		if learned[id] {
			continue
		}
		if n, ok := g.Nodes[id]; ok {
			if g.DeniedNodes == nil {
				g.DeniedNodes = map[string]*Node{}
			}
			moveNode(g.Nodes, g.DeniedNodes, id, n)
		}
	}
	for id := range g.DeniedNodes {
		if !denied[id] {
			delete(g.DeniedNodes, id)
		}
	}
}

// moveNode moves node n from one table to the other, its controller
// names joining those of the node already there.
func moveNode(from, to map[string]*Node, id string, n *Node) {
	if old, ok := to[id]; ok {
		for _, p := range n.Pods {
			old.Pods, _ = insertSorted(old.Pods, p, MaxPods, false)
		}
	} else {
		to[id] = n
	}
	delete(from, id)
}

// SortedDeniedNodes returns the denied-only nodes ordered by ID.
func (g *Graph) SortedDeniedNodes() []*Node { return byID(g.DeniedNodes) }

// Merge adds every node, edge, DNS fact and statistic of o into g. Merging
// is commutative and associative: the result does not depend on the order
// snapshots are merged in. Nodes with the same ID must agree.
func (g *Graph) Merge(o *Graph) error {
	defer g.SettleDenied()
	for _, n := range append(o.SortedNodes(), o.SortedDeniedNodes()...) {
		if old := g.Node(n.ID); old != nil {
			if !sameNode(old, n) {
				return fmt.Errorf("merge: node %s differs between snapshots", n.ID)
			}
			for _, p := range n.Pods {
				old.Pods, _ = insertSorted(old.Pods, p, MaxPods, false)
			}
			continue
		}
		c := *n
		c.Pods = append([]string(nil), n.Pods...)
		g.Nodes[n.ID] = &c
	}
	for _, e := range o.SortedEdges() {
		mergeEdge(g.Edges, e)
	}
	for _, e := range o.SortedDenied() {
		if g.Denied == nil {
			g.Denied = map[string]*Edge{}
		}
		mergeEdge(g.Denied, e)
	}
	for _, u := range o.SortedUndecided() {
		g.mergeUndecided(u)
	}
	for ip, names := range o.DNS {
		for _, n := range names {
			g.AddDNS(ip, n)
		}
	}
	g.Stats.Records += o.Stats.Records
	g.Stats.Flows += o.Stats.Flows
	for r, c := range o.Stats.Skipped {
		g.Stats.add(&g.Stats.Skipped, r, c)
	}
	for k, c := range o.Stats.Direction {
		g.Stats.add(&g.Stats.Direction, k, c)
	}
	for _, s := range o.Sources {
		g.Sources, _ = insertSorted(g.Sources, s, 1<<30, false)
	}
	return nil
}

// mergeEdge adds e's observations to the edge with e's ID in m,
// creating it.
func mergeEdge(m map[string]*Edge, e *Edge) {
	old, ok := m[e.ID]
	if !ok {
		old = &Edge{ID: e.ID, Src: e.Src, Dst: e.Dst, Protocol: e.Protocol, Port: e.Port, Verdicts: Counts{}}
		m[e.ID] = old
	}
	for _, c := range e.Verdicts {
		old.Verdicts.Add(c.Key, c.N)
	}
	for _, c := range e.Direction {
		old.countDirection(c.Key, c.N)
	}
	old.seen(e.FirstSeen)
	old.seen(e.LastSeen)
	for _, p := range e.Samples {
		old.addSample(p)
	}
	if e.L7 != nil {
		for _, f := range e.L7.HTTP {
			old.addHTTP(f)
		}
		for _, d := range e.L7.DNS {
			old.addDNS(d)
		}
		if e.L7.Truncated {
			old.l7().Truncated = true
		}
	}
}

func sameNode(a, b *Node) bool {
	return a.Kind == b.Kind && a.Namespace == b.Namespace && a.Name == b.Name && a.CIDR == b.CIDR &&
		a.FQDN == b.FQDN && strings.Join(a.Labels, "\x00") == strings.Join(b.Labels, "\x00") &&
		strings.Join(a.Entities, "\x00") == strings.Join(b.Entities, "\x00")
}

// DisplayNames names every node (learned and denied-only) for people: "namespace/workload" for
// workloads ("cluster/namespace/workload" when the workloads span several
// clusters; "namespace/workload#hash" when several identities share the
// name), the node ID (ent:world, cidr:…, fqdn:…) for the others.
func (g *Graph) DisplayNames() map[string]string {
	count := map[string]int{}
	clusters := map[string]bool{}
	for _, n := range g.allNodes() {
		if n.Kind == KindWorkload {
			clusters[n.Cluster()] = true
		}
	}
	name := func(n *Node) string {
		if len(clusters) > 1 && n.Cluster() != "" {
			return n.Cluster() + "/" + n.Namespace + "/" + n.Name
		}
		return n.Namespace + "/" + n.Name
	}
	for _, n := range g.allNodes() {
		if n.Kind == KindWorkload {
			count[name(n)]++
		}
	}
	out := make(map[string]string, len(g.Nodes)+len(g.DeniedNodes))
	for id, n := range g.allNodes() {
		switch {
		case n.Kind != KindWorkload:
			out[id] = id
		case count[name(n)] > 1:
			out[id] = strings.TrimPrefix(id, "wl:")
		default:
			out[id] = name(n)
		}
	}
	return out
}

// ClusterLabel is the identity label that names a workload's cluster.
const ClusterLabel = "k8s:io.cilium.k8s.policy.cluster"

// Cluster is the cluster a workload's labels name (ClusterLabel), or "".
func (n *Node) Cluster() string {
	for _, l := range n.Labels {
		if v, ok := strings.CutPrefix(l, ClusterLabel+"="); ok {
			return v
		}
	}
	return ""
}
