package lower

import (
	"time"

	"github.com/policypilot/ppc/ir"
)

// A connection is recorded by Hubble many times: at every observation
// point it crosses on the source node (FROM_ENDPOINT, TO_OVERLAY or
// TO_STACK, TO_PROXY) and on the destination node (TO_ENDPOINT), in both
// directions, each record with its own verdict. The builder joins the
// records of one five-tuple (either direction, within a time window) and
// decides, from all of them:
//
//   - its fate: a connection any record shows dropped by policy was
//     denied, however many other records show it forwarded (allowed at the
//     source node, dropped by the destination's ingress policy);
//   - its direction: which end opened it. Hubble states it with is_reply
//     only where conntrack was consulted; where is_reply is absent it is
//     unknown, not false. The evidence is, in this order: is_reply on the
//     request's own records, is_reply on the reverse tuple's records, TCP
//     flags (SYN opens, SYN-ACK answers), an L7 request, an ICMP request
//     type. When none decides (or they disagree), the connection is kept
//     undecided in the IR; the resolve-direction pass may decide it from
//     the ports other connections show endpoints listening on.

// evidence is a set of evidence kinds a record or a direction carries.
type evidence uint8

const (
	evIsReply evidence = 1 << iota
	evTCPFlags
	evL7
	evICMP
)

// fate is what the cluster's policies did to a connection.
type fate uint8

const (
	fateNone         fate = iota
	fateDenied            // dropped with POLICY_DENIED (no rule allowed it)
	fateExplicitDeny      // dropped with POLICY_DENY (a deny rule)
)

// connObs is what a connection's observation needs of a record.
type connObs struct {
	src, dst    *ir.Node
	edge        string
	protocol    string
	port, sport uint16
	time        time.Time
	pos         ir.Pos
	http        *ir.HTTPFact
	dnsQuery    string
}

// connSide is what the records of one direction of a connection (in the
// canonical tuple order, or against it) say.
type connSide struct {
	first    connObs // the direction's first record
	records  int64
	drops    int64 // records that are policy drops
	request  evidence
	reply    evidence
	redirect bool // a record was REDIRECTED (to an L7 proxy)
	audit    bool // a record was AUDIT (would have been denied)
}

// conn is one connection being joined.
type conn struct {
	side [2]connSide
	last time.Time
	fate fate
}

// add joins a prepared record to the connection.
func (c *conn) add(pos ir.Pos, p *Prepared) {
	s := &c.side[0]
	if p.reversed {
		s = &c.side[1]
	}
	if s.records == 0 {
		s.first = connObs{src: p.src, dst: p.dst, edge: p.edge, protocol: p.protocol, port: p.port, sport: p.sport,
			time: p.time, pos: pos, http: p.http, dnsQuery: p.dnsQuery}
	}
	s.records++
	s.request |= p.request
	s.reply |= p.reply
	switch p.verdict {
	case "REDIRECTED":
		s.redirect = true
	case "AUDIT":
		s.audit = true
	}
	if p.fate != fateNone {
		s.drops++
		c.fate = max(c.fate, p.fate)
	}
	if p.time.After(c.last) {
		c.last = p.time
	}
}

// stale reports whether a record at t starts a new connection on the same
// five-tuple: it comes more than window after the connection's last record.
func (c *conn) stale(t time.Time, window time.Duration) bool {
	return !t.IsZero() && !c.last.IsZero() && t.Sub(c.last) > window
}

// records is the number of records joined.
func (c *conn) records() int64 { return c.side[0].records + c.side[1].records }

// direction returns the side that opened the connection and the kind of
// evidence that decided it, or -1 and ir.DirectionUnknown.
func (c *conn) direction() (int, string) {
	var says [2]evidence // evidence that side i is the request
	for i := range 2 {
		says[i] = c.side[i].request | c.side[1-i].reply
	}
	switch {
	case says[0] != 0 && says[1] == 0:
		return 0, c.kind(0)
	case says[1] != 0 && says[0] == 0:
		return 1, c.kind(1)
	}
	return -1, ir.DirectionUnknown
}

// kind names the strongest evidence that side i is the request.
func (c *conn) kind(i int) string {
	req, rep := c.side[i].request, c.side[1-i].reply
	switch {
	case req&evIsReply != 0:
		return ir.ByIsReply
	case rep&evIsReply != 0:
		return ir.ByReverseTuple
	case (req|rep)&evTCPFlags != 0:
		return ir.ByTCPFlags
	case req&evL7 != 0:
		return ir.ByL7
	}
	return ir.ByICMPType
}

// verdict is the connection's verdict in the IR: DROPPED when a policy
// dropped it, else AUDIT when a policy would have, else REDIRECTED when an
// L7 proxy took it, else FORWARDED.
func (c *conn) verdict() string {
	switch {
	case c.fate != fateNone:
		return "DROPPED"
	case c.side[0].audit || c.side[1].audit:
		return "AUDIT"
	case c.side[0].redirect || c.side[1].redirect:
		return "REDIRECTED"
	}
	return "FORWARDED"
}

// request is the observation of the request of a connection side o
// opened: its first record, or when only the answers were recorded, their
// reverse.
func (c *conn) request(o int) connObs {
	req, rep := &c.side[o], &c.side[1-o]
	if req.records > 0 {
		return req.first
	}
	r := rep.first
	f := connObs{src: r.dst, dst: r.src, protocol: r.protocol, port: r.sport, sport: r.port, time: r.time, pos: r.pos}
	f.edge = ir.EdgeID(f.src.ID, f.dst.ID, f.protocol, f.port)
	return f
}

// deny records a connection a policy dropped, which defines no policy, as
// a denied attempt of the graph: from the end that opened it (by the same
// evidence as a learned connection), else from the end whose packets were
// dropped — a policy drops what an endpoint sends, and conntrack lets the
// answers of an allowed connection through, so the sender of a dropped
// packet is the one that tried.
func (b *Builder) deny(c *conn) {
	o, kind := c.direction()
	if o < 0 {
		o = 0
		if c.side[0].drops == 0 && c.side[1].drops > 0 {
			o = 1
		}
	}
	f := c.request(o)
	if f.src == nil || f.dst == nil {
		return
	}
	src, dst := b.addNode(f.src), b.addNode(f.dst)
	b.g.ObserveDenied(f.edge, ir.Observation{Src: src.ID, Dst: dst.ID, Protocol: f.protocol, Port: f.port, Verdict: "DROPPED",
		Time: f.time, Until: c.last, Pos: f.pos, Direction: kind})
}

// learned reports whether a connection with fate f defines policy.
func (b *Builder) learned(f fate) bool {
	switch f {
	case fateDenied:
		return b.opts.IncludeDenied || b.opts.Attempts
	case fateExplicitDeny:
		return b.opts.Attempts
	}
	return true
}

// resolve decides a joined connection and adds it to the graph: an
// observation of the edge from its client to its server, an undecided
// group, or only counts when its fate keeps it out. Every record joined is
// counted once. An empty connection is ignored.
func (b *Builder) resolve(c *conn) {
	n := c.records()
	if n == 0 {
		return
	}
	st := &b.g.Stats
	if !b.learned(c.fate) {
		drops := c.side[0].drops + c.side[1].drops
		reason := SkipDenied
		if c.fate == fateExplicitDeny {
			reason = SkipExplicitDeny
		}
		st.SkipN(reason, drops)
		st.SkipN(SkipDroppedElsewhere, n-drops)
		b.deny(c)
		return
	}
	o, kind := c.direction()
	if o < 0 {
		i := 0
		if c.side[0].records == 0 {
			i = 1
		}
		f := c.side[i].first
		first, last := f.time, c.last
		if first.IsZero() {
			first = last
		}
		b.addNode(f.src)
		b.addNode(f.dst)
		b.g.ObserveUndecided(ir.UndecidedObservation{Src: f.src.ID, Dst: f.dst.ID, SrcPort: f.sport, DstPort: f.port, Protocol: f.protocol,
			Verdict: c.verdict(), Forward: c.side[i].records, Backward: c.side[1-i].records, FirstSeen: first, LastSeen: last, Pos: f.pos})
		st.CountDirection(ir.DirectionUnknown, 1)
		st.SkipN(SkipDirectionUnknown, n)
		return
	}
	req, rep := &c.side[o], &c.side[1-o]
	f := c.request(o)
	src, dst := b.addNode(f.src), b.addNode(f.dst)
	b.g.ObserveEdge(f.edge, ir.Observation{Src: src.ID, Dst: dst.ID, Protocol: f.protocol, Port: f.port, Verdict: c.verdict(),
		Time: f.time, Until: c.last, Pos: f.pos, HTTP: f.http, DNSQuery: f.dnsQuery, Direction: kind})
	st.Flows++
	st.CountDirection(kind, 1)
	dup, replies := req.records-1, rep.records
	if req.records == 0 {
		dup, replies = 0, rep.records-1
	}
	st.SkipN(SkipDuplicate, dup)
	st.SkipN(SkipReply, replies)
}
