package ir

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// How the direction of a connection was decided: which end opened it
// (the client) and which listens (the server). Hubble states it with
// is_reply only where the datapath looked up conntrack; elsewhere (records
// at TO_OVERLAY and TO_STACK, drops, field-masked exports) the field is
// absent, which means unknown, not false. Each connection is counted
// under the first kind of evidence that decided it.
const (
	// ByIsReply: a record of the request direction carries is_reply
	// false (Cilium's conntrack saw the original direction).
	ByIsReply = "is_reply"
	// ByReverseTuple: a record of the reverse five-tuple is a reply
	// (is_reply true, or the legacy reply flag).
	ByReverseTuple = "reverse_tuple"
	// ByTCPFlags: SYN without ACK opens a connection, SYN-ACK answers.
	ByTCPFlags = "tcp_flags"
	// ByL7: an L7 request record (the proxy terminates the connection and
	// knows the client).
	ByL7 = "l7"
	// ByICMPType: an ICMP request type (echo request, …).
	ByICMPType = "icmp_type"
	// ByListeningPort: the server end is seen listening on the port in
	// connections whose direction Hubble stated (one of the kinds above).
	ByListeningPort = "listening_port"
	// ByWellKnownPort: a system port (1–1023, DNS included) faces a port
	// that is not one.
	ByWellKnownPort = "well_known_port"
	// DirectionUnknown: nothing decided; no rule is written for it.
	DirectionUnknown = "unknown"
)

// Skip reasons the IR passes move records between (see Stats.Skipped).
const (
	SkipReply            = "reply"
	SkipDuplicate        = "trace duplicate"
	SkipDirectionUnknown = "direction unknown (no rule written)"
)

// Stated reports whether the direction evidence kind comes from the
// records of the connection itself (as opposed to what other connections
// tell: listening ports, well-known ports).
func Stated(kind string) bool {
	switch kind {
	case ByIsReply, ByReverseTuple, ByTCPFlags, ByL7, ByICMPType:
		return true
	}
	return false
}

// MaxUndecided bounds the undecided connection groups a graph keeps; the
// records of the others are only counted.
const MaxUndecided = 1 << 16

// Undecided is a group of connections whose direction their own records
// do not tell: between the same two endpoints, protocol and ports. It is
// stored in a canonical orientation (A before B by ID, then by port) so
// that merging does not depend on the order records came in. The
// resolve-direction pass turns it into an edge when another connection
// shows one end listening on its port; otherwise it stays, is reported,
// and defines no policy.
type Undecided struct {
	ID          string `json:"id"`
	A           string `json:"a"`
	B           string `json:"b"`
	Protocol    string `json:"protocol"`
	PortA       uint16 `json:"port_a"`
	PortB       uint16 `json:"port_b"`
	Connections int64  `json:"connections"`
	// Verdicts counts the connections by fate (FORWARDED, AUDIT, DROPPED, …).
	Verdicts  map[string]int64 `json:"verdicts"`
	RecordsAB int64            `json:"records_ab"` // records from A to B
	RecordsBA int64            `json:"records_ba"` // records from B to A
	FirstSeen time.Time        `json:"first_seen,omitzero"`
	LastSeen  time.Time        `json:"last_seen,omitzero"`
	Samples   []Pos            `json:"samples,omitempty"`
}

// UndecidedID is the ID of the undecided group between a:pa and b:pb,
// given in canonical order.
func UndecidedID(a string, pa uint16, b string, pb uint16, protocol string) string {
	return a + ":" + strconv.Itoa(int(pa)) + " <-> " + b + ":" + strconv.Itoa(int(pb)) + " " + protocol
}

// UndecidedObservation is one connection whose direction its records do
// not tell, oriented as its first record was (Src:SrcPort → Dst:DstPort).
type UndecidedObservation struct {
	Src, Dst         string
	SrcPort, DstPort uint16
	Protocol         string
	Verdict          string
	// Forward and Backward count the connection's records in the first
	// record's orientation and against it.
	Forward, Backward int64
	FirstSeen         time.Time
	LastSeen          time.Time
	Pos               Pos
}

// ObserveUndecided adds a connection of unknown direction. It returns
// false when the graph already keeps MaxUndecided groups and this
// connection belongs to none of them (it is then not kept).
func (g *Graph) ObserveUndecided(o UndecidedObservation) bool {
	u := &Undecided{A: o.Src, B: o.Dst, Protocol: o.Protocol, PortA: o.SrcPort, PortB: o.DstPort, Connections: 1,
		Verdicts: map[string]int64{o.Verdict: 1}, RecordsAB: o.Forward, RecordsBA: o.Backward}
	u.FirstSeen, u.LastSeen = widen(time.Time{}, time.Time{}, o.FirstSeen)
	u.FirstSeen, u.LastSeen = widen(u.FirstSeen, u.LastSeen, o.LastSeen)
	u.Samples = addSample(nil, o.Pos)
	u.canonicalize()
	return g.mergeUndecided(u)
}

// canonicalize puts u in canonical orientation (A before B by ID, then by
// port) and sets its ID.
func (u *Undecided) canonicalize() {
	if u.B < u.A || u.B == u.A && u.PortB < u.PortA {
		u.A, u.B, u.PortA, u.PortB, u.RecordsAB, u.RecordsBA = u.B, u.A, u.PortB, u.PortA, u.RecordsBA, u.RecordsAB
	}
	u.ID = UndecidedID(u.A, u.PortA, u.B, u.PortB, u.Protocol)
}

// mergeUndecided adds u's connections to the group with u's ID; it
// returns false when that group is new and the graph already keeps
// MaxUndecided groups (u is then not kept).
func (g *Graph) mergeUndecided(u *Undecided) bool {
	old, ok := g.Undecided[u.ID]
	if !ok {
		if len(g.Undecided) >= MaxUndecided {
			return false
		}
		c := *u
		c.Verdicts = map[string]int64{}
		c.Samples = nil
		c.Connections, c.RecordsAB, c.RecordsBA = 0, 0, 0
		old = &c
		g.Undecided[u.ID] = old
	}
	old.Connections += u.Connections
	old.RecordsAB += u.RecordsAB
	old.RecordsBA += u.RecordsBA
	for v, n := range u.Verdicts {
		old.Verdicts[v] += n
	}
	old.FirstSeen, old.LastSeen = widen(old.FirstSeen, old.LastSeen, u.FirstSeen)
	old.FirstSeen, old.LastSeen = widen(old.FirstSeen, old.LastSeen, u.LastSeen)
	for _, p := range u.Samples {
		old.Samples = addSample(old.Samples, p)
	}
	return true
}

// SortedUndecided returns the undecided groups ordered by ID.
func (g *Graph) SortedUndecided() []*Undecided { return byID(g.Undecided) }

// widen extends the [first, last] interval to t (zero times are ignored).
func widen(first, last, t time.Time) (time.Time, time.Time) {
	if t.IsZero() {
		return first, last
	}
	if first.IsZero() || t.Before(first) {
		first = t
	}
	if last.IsZero() || t.After(last) {
		last = t
	}
	return first, last
}

// listenKey is an endpoint listening on a protocol and port.
type listenKey struct {
	node, protocol string
	port           uint16
}

// SystemPort reports whether p is in the IANA system range (1–1023),
// where servers listen and clients do not take their ports from.
func SystemPort(p uint16) bool { return p > 0 && p < 1024 }

// resolveDirection decides the undecided connections from what the other
// connections tell: an endpoint seen listening on a port (as the
// destination of an edge whose direction Hubble's records stated) is the
// server of an undecided connection on that port; failing that, a system
// port facing a non-system one is the server's. The rest stay undecided
// and are reported: no rule is written for them.
func resolveDirection(g *Graph) Diagnostics {
	if len(g.Undecided) == 0 {
		return nil
	}
	listening := map[listenKey]bool{}
	for _, e := range g.Edges {
		for _, c := range e.Direction {
			if kind := c.Key; Stated(kind) {
				listening[listenKey{e.Dst, e.Protocol, e.Port}] = true
				break
			}
		}
	}
	for _, u := range g.SortedUndecided() {
		aL, bL := listening[listenKey{u.A, u.Protocol, u.PortA}], listening[listenKey{u.B, u.Protocol, u.PortB}]
		var kind string
		var ab bool // A is the client
		switch {
		case bL && !aL:
			kind, ab = ByListeningPort, true
		case aL && !bL:
			kind, ab = ByListeningPort, false
		case !aL && !bL && SystemPort(u.PortB) && !SystemPort(u.PortA):
			kind, ab = ByWellKnownPort, true
		case !aL && !bL && SystemPort(u.PortA) && !SystemPort(u.PortB):
			kind, ab = ByWellKnownPort, false
		default:
			continue
		}
		src, dst, port, req, rep := u.A, u.B, u.PortB, u.RecordsAB, u.RecordsBA
		if !ab {
			src, dst, port, req, rep = u.B, u.A, u.PortA, u.RecordsBA, u.RecordsAB
		}
		id := EdgeID(src, dst, u.Protocol, port)
		e, ok := g.Edges[id]
		if !ok {
			e = &Edge{ID: id, Src: src, Dst: dst, Protocol: u.Protocol, Port: port, Verdicts: Counts{}}
			g.Edges[id] = e
		}
		for v, n := range u.Verdicts {
			e.Verdicts.Add(v, n)
		}
		e.countDirection(kind, u.Connections)
		e.seen(u.FirstSeen)
		e.seen(u.LastSeen)
		for _, p := range u.Samples {
			e.addSample(p)
		}
		s := &g.Stats
		s.move(&s.Direction, DirectionUnknown, kind, u.Connections)
		s.move(&s.Skipped, SkipDirectionUnknown, "", u.RecordsAB+u.RecordsBA)
		s.Flows += u.Connections
		s.add(&s.Skipped, SkipDuplicate, max(req-u.Connections, 0))
		s.add(&s.Skipped, SkipReply, rep+min(req-u.Connections, 0))
		delete(g.Undecided, u.ID)
	}
	return undecidedWarning(g)
}

// undecidedWarning summarises the connections left undecided.
func undecidedWarning(g *Graph) Diagnostics {
	if len(g.Undecided) == 0 {
		return nil
	}
	us := g.SortedUndecided()
	sort.SliceStable(us, func(i, j int) bool { return us[i].Connections > us[j].Connections })
	var conns int64
	for _, u := range us {
		conns += u.Connections
	}
	d := Warnf("ppc_direction_unknown", Pos{}, "%d connections in %d groups: direction unknown (no is_reply, TCP flags, reverse tuple or listening port tells which end opened them); no rule is written for them, so they stay denied", conns, len(us))
	for i, u := range us {
		if i == 5 {
			d.Details = append(d.Details, fmt.Sprintf("… and %d more groups (ppc compile --dump ir lists them)", len(us)-5))
			break
		}
		d.Details = append(d.Details, fmt.Sprintf("%s (%d connections)", u.ID, u.Connections))
		if len(u.Samples) > 0 {
			d.Related = append(d.Related, u.Samples[0])
		}
	}
	return Diagnostics{d}
}

// move moves n from key from to key to ("" drops it) in the count map m.
func (s *Stats) move(m *map[string]int64, from, to string, n int64) {
	s.add(m, from, -n)
	if to != "" {
		s.add(m, to, n)
	}
}

// add adds n to key in the count map m, deleting keys that reach zero.
func (s *Stats) add(m *map[string]int64, key string, n int64) {
	if n == 0 {
		return
	}
	if *m == nil {
		*m = map[string]int64{}
	}
	(*m)[key] += n
	if (*m)[key] == 0 {
		delete(*m, key)
	}
}

// CountDirection counts n connections under the direction evidence kind.
func (s *Stats) CountDirection(kind string, n int64) { s.add(&s.Direction, kind, n) }

// SkipN counts n records skipped for reason.
func (s *Stats) SkipN(reason string, n int64) { s.add(&s.Skipped, reason, n) }

func (e *Edge) countDirection(kind string, n int64) {
	if kind == "" || n == 0 {
		return
	}
	e.Direction.Add(kind, n)
}

// formatCounts writes " name[key]=n" for every count of c, in order.
func formatCounts(b *strings.Builder, name string, c Counts) {
	for _, x := range c {
		fmt.Fprintf(b, " %s[%s]=%d", name, x.Key, x.N)
	}
}
