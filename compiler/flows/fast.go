package flows

import (
	flowpb "github.com/cilium/cilium/api/v1/flow"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The fast path decodes the common shape of Hubble's JSON without
// protojson, in one pass over the bytes: every key must name a field of the
// message at hand (looked up in tables built from the protobuf
// descriptors), every value must have a type protojson accepts for that
// field with the same meaning, and the fields ppc reads are stored as they
// are met. Anything it cannot vouch for — an unknown field, a null, a
// number with a fraction or exponent, an escape inside a key or a number,
// an Any, a duplicate key, two members of one oneof, … — makes it decline,
// and the record goes through protojson, which reports the error or
// warning. So the fast path changes speed, never results; TestFastSamples,
// TestFastEdgeCases and FuzzFastDecode hold it to protojson value by value.
//
// Endpoints repeat: every flow of a connection carries the same source and
// destination objects byte for byte. A decoder remembers the endpoints it
// decoded by their bytes and hands the same (read-only) *flowpb.Endpoint
// to every flow that carries those bytes again, without reading them twice.

// maxDepth bounds nesting; deeper values decline. An Endpoint's own
// nesting is bounded by its schema (two levels), so a cached endpoint is
// valid wherever a flow may carry it.
const maxDepth = 32

// maxCachedEndpoints bounds a decoder's endpoint cache; it starts afresh
// when full.
const maxCachedEndpoints = 4096

// fastDecoder decodes values; one per goroutine.
type fastDecoder struct {
	l         lexer
	endpoints map[string][]cachedEndpoint // by their first epKey bytes
	cached    int                         // endpoints added to the cache
	// reuse: each flow is decoded into box, valid until the next decode.
	reuse bool
	box   flowBox
}

// flowBox allocates a flow and the parts most flows have at once.
type flowBox struct {
	flow    flowpb.Flow
	time    timestamppb.Timestamp
	ip      flowpb.IP
	l4      flowpb.Layer4
	tcp     flowpb.TCP
	tcpOf   flowpb.Layer4_TCP
	udp     flowpb.UDP
	udpOf   flowpb.Layer4_UDP
	flags   flowpb.TCPFlags
	isReply wrapperspb.BoolValue
}

// decode returns the flow of data — an ExportEvent/GetFlowsResponse
// ({"flow": …}, wrapped) or a bare Flow, told apart as decoder.decode
// does — or false when the record must go through protojson.
func (d *fastDecoder) decode(data []byte) (f *flowpb.Flow, wrapped, ok bool) {
	l := &d.l
	*l = lexer{b: data, d: d}
	l.ws()
	if l.i >= len(l.b) || l.b[l.i] != '{' {
		return nil, false, false
	}
	// A first key "flow" means an ExportEvent. Anything else is read as a
	// bare flow, which must then have one of the keys decoder.decode
	// recognizes a bare flow by; a "flow" key further on makes it decline
	// (protojson reads it as an ExportEvent).
	j := l.i + 1
	for j < len(l.b) && isWS(l.b[j]) {
		j++
	}
	wrapped = hasPrefixAt(l.b, j, `"flow"`)
	var box *flowBox
	if d.reuse {
		d.box = flowBox{}
		box = &d.box
	} else {
		box = &flowBox{}
	}
	if wrapped {
		l.event(box, 0)
	} else {
		l.flow(box, 0)
		if !l.bare {
			l.bad = true
		}
	}
	l.ws()
	if l.bad || l.i != len(l.b) || (wrapped && !l.sawFlow) {
		return nil, wrapped, false
	}
	return &box.flow, wrapped, true
}

func hasPrefixAt(b []byte, i int, s string) bool {
	return len(b)-i >= len(s) && string(b[i:i+len(s)]) == s
}

// event reads an ExportEvent (GetFlowsResponse has the same JSON).
func (l *lexer) event(box *flowBox, depth int) {
	if !l.open(depth) {
		return
	}
	o := object{m: eventInfo}
	for fi := l.field(&o); fi != nil; fi = l.field(&o) {
		if fi.id == xEventFlow {
			l.flow(box, depth+1)
			l.sawFlow = true
			continue
		}
		l.value(fi, depth)
	}
}

func (l *lexer) flow(box *flowBox, depth int) {
	if !l.open(depth) {
		return
	}
	f := &box.flow
	o := object{m: flowInfo}
	for fi := l.field(&o); fi != nil; fi = l.field(&o) {
		switch fi.id {
		case xTime:
			box.time.Seconds, box.time.Nanos = l.timestamp()
			f.Time = &box.time
		case xVerdict:
			f.Verdict = flowpb.Verdict(l.enum(fi.enum))
			l.bare = true
		case xDropReason:
			//lint:ignore SA1019 older Hubble versions give only the legacy field; lower reads it on purpose
			f.DropReason = uint32(l.integer(0, 1<<32-1))
		case xDropReasonDesc:
			f.DropReasonDesc = flowpb.DropReason(l.enum(fi.enum))
		case xIP:
			l.ip(&box.ip, depth+1)
			f.IP = &box.ip
			l.bare = true
		case xL4:
			l.l4(box, depth+1)
			f.L4 = &box.l4
			l.bare = true
		case xSource:
			f.Source = l.endpoint(depth + 1)
			l.bare = true
		case xDestination:
			f.Destination = l.endpoint(depth + 1)
			l.bare = true
		case xSourceNames:
			f.SourceNames = l.texts()
		case xDestinationNames:
			f.DestinationNames = l.texts()
		case xIsReply:
			box.isReply.Value = l.boolean()
			f.IsReply = &box.isReply
		case xReply:
			//lint:ignore SA1019 agents before Cilium 1.9 give only the legacy reply flag; lower reads it on purpose
			f.Reply = l.boolean()
		case xL7:
			f.L7 = l.l7(depth + 1)
			l.bare = true
		case xAggregate:
			l.value(fi, depth)
			f.Aggregate = &flowpb.Aggregate{}
		default:
			l.value(fi, depth)
		}
		// The other keys decoder.decode recognizes a bare flow by: Type,
		// event_type and traffic_direction (l4 is above).
		if !l.bare {
			switch fi {
			case flowType, flowEventType, flowDirection:
				l.bare = true
			}
		}
	}
}

func (l *lexer) ip(ip *flowpb.IP, depth int) {
	if !l.open(depth) {
		return
	}
	o := object{m: ipInfo}
	for fi := l.field(&o); fi != nil; fi = l.field(&o) {
		switch fi.id {
		case xIPSource:
			ip.Source = l.text()
		case xIPDestination:
			ip.Destination = l.text()
		default:
			l.value(fi, depth)
		}
	}
}

func (l *lexer) l4(box *flowBox, depth int) {
	if !l.open(depth) {
		return
	}
	o := object{m: l4Info}
	for fi := l.field(&o); fi != nil; fi = l.field(&o) {
		switch fi.id {
		case xTCP:
			var flags bool
			box.tcp.SourcePort, box.tcp.DestinationPort, flags = l.ports(fi.msg, &box.flags, depth+1)
			if flags {
				box.tcp.Flags = &box.flags
			}
			box.tcpOf.TCP = &box.tcp
			box.l4.Protocol = &box.tcpOf
		case xUDP:
			box.udp.SourcePort, box.udp.DestinationPort, _ = l.ports(fi.msg, nil, depth+1)
			box.udpOf.UDP = &box.udp
			box.l4.Protocol = &box.udpOf
		case xSCTP:
			s, d, _ := l.ports(fi.msg, nil, depth+1)
			box.l4.Protocol = &flowpb.Layer4_SCTP{SCTP: &flowpb.SCTP{SourcePort: s, DestinationPort: d}}
		case xICMPv4:
			t, c := l.icmp(fi.msg, depth+1)
			box.l4.Protocol = &flowpb.Layer4_ICMPv4{ICMPv4: &flowpb.ICMPv4{Type: t, Code: c}}
		case xICMPv6:
			t, c := l.icmp(fi.msg, depth+1)
			box.l4.Protocol = &flowpb.Layer4_ICMPv6{ICMPv6: &flowpb.ICMPv6{Type: t, Code: c}}
		default:
			l.value(fi, depth)
		}
	}
}

func (l *lexer) ports(m *msgInfo, flags *flowpb.TCPFlags, depth int) (src, dst uint32, hasFlags bool) {
	if !l.open(depth) {
		return
	}
	o := object{m: m}
	for fi := l.field(&o); fi != nil; fi = l.field(&o) {
		switch fi.id {
		case xSourcePort:
			src = uint32(l.integer(0, 1<<32-1))
		case xDestinationPort:
			dst = uint32(l.integer(0, 1<<32-1))
		case xFlags:
			hasFlags = true
			l.flags(fi.msg, flags, depth+1)
		default:
			l.value(fi, depth)
		}
	}
	return
}

func (l *lexer) flags(m *msgInfo, flags *flowpb.TCPFlags, depth int) {
	if !l.open(depth) {
		return
	}
	o := object{m: m}
	for fi := l.field(&o); fi != nil; fi = l.field(&o) {
		switch fi.id {
		case xSYN:
			flags.SYN = l.boolean()
		case xACK:
			flags.ACK = l.boolean()
		default:
			l.value(fi, depth)
		}
	}
}

func (l *lexer) icmp(m *msgInfo, depth int) (typ, code uint32) {
	if !l.open(depth) {
		return
	}
	o := object{m: m}
	for fi := l.field(&o); fi != nil; fi = l.field(&o) {
		switch fi.id {
		case xICMPType:
			typ = uint32(l.integer(0, 1<<32-1))
		case xICMPCode:
			code = uint32(l.integer(0, 1<<32-1))
		default:
			l.value(fi, depth)
		}
	}
	return
}

// endpoint reads an Endpoint, from the decoder's cache when these bytes
// were read before. The cache is looked up by the first epKey bytes of
// the input, then each candidate's bytes are compared with what follows:
// an object that starts with the whole of a cached object (validated when
// it was read) is that object, so nothing is scanned twice.
func (l *lexer) endpoint(depth int) *flowpb.Endpoint {
	if l.peek() != '{' {
		l.bad = true
		return nil
	}
	start := l.i
	rest := l.b[start:]
	key := rest[:min(epKey, len(rest))]
	cands := l.d.endpoints[string(key)]
	for _, c := range cands {
		if len(rest) >= len(c.raw) && string(rest[:len(c.raw)]) == c.raw {
			l.i += len(c.raw)
			return c.ep
		}
	}
	ep := l.readEndpoint(depth)
	if l.bad {
		return nil
	}
	if l.d.endpoints == nil || l.d.cached >= maxCachedEndpoints {
		l.d.endpoints = map[string][]cachedEndpoint{}
		l.d.cached = 0
		cands = nil
	}
	l.d.cached++
	c := cachedEndpoint{raw: string(l.b[start:l.i]), ep: ep}
	if len(cands) < maxCandidates {
		cands = append(cands, c)
	} else {
		copy(cands, cands[1:]) // the oldest leaves
		cands[len(cands)-1] = c
	}
	l.d.endpoints[string(key)] = cands
	return ep
}

// cachedEndpoint is an endpoint a decoder read, and its bytes.
type cachedEndpoint struct {
	raw string
	ep  *flowpb.Endpoint
}

const (
	// epKey is how many bytes of an endpoint object look up the cache:
	// enough to cover its ID and identity.
	epKey = 32
	// maxCandidates bounds the cached endpoints that share their first
	// epKey bytes.
	maxCandidates = 4
)

func (l *lexer) readEndpoint(depth int) *flowpb.Endpoint {
	ep := &flowpb.Endpoint{}
	if !l.open(depth) {
		return nil
	}
	o := object{m: epInfo}
	for fi := l.field(&o); fi != nil; fi = l.field(&o) {
		switch fi.id {
		case xIdentity:
			ep.Identity = uint32(l.integer(0, 1<<32-1))
		case xNamespace:
			ep.Namespace = l.text()
		case xLabels:
			ep.Labels = l.texts()
		case xPodName:
			ep.PodName = l.text()
		case xWorkloads:
			ep.Workloads = l.workloads(fi.msg, depth+1)
		default:
			l.value(fi, depth)
		}
	}
	return ep
}

func (l *lexer) workloads(m *msgInfo, depth int) []*flowpb.Workload {
	var out []*flowpb.Workload
	for n := 0; l.element(n); n++ {
		if !l.open(depth) {
			break
		}
		w := &flowpb.Workload{}
		o := object{m: m}
		for fi := l.field(&o); fi != nil; fi = l.field(&o) {
			switch fi.id {
			case xWorkloadName:
				w.Name = l.text()
			case xWorkloadKind:
				w.Kind = l.text()
			default:
				l.value(fi, depth)
			}
		}
		out = append(out, w)
	}
	return out
}

func (l *lexer) l7(depth int) *flowpb.Layer7 {
	if !l.open(depth) {
		return nil
	}
	r := &flowpb.Layer7{}
	o := object{m: l7Info}
	for fi := l.field(&o); fi != nil; fi = l.field(&o) {
		switch fi.id {
		case xL7Type:
			r.Type = flowpb.L7FlowType(l.enum(fi.enum))
		case xDNS:
			d := &flowpb.DNS{}
			if l.open(depth + 1) {
				o := object{m: fi.msg}
				for fi := l.field(&o); fi != nil; fi = l.field(&o) {
					switch fi.id {
					case xDNSQuery:
						d.Query = l.text()
					case xDNSIPs:
						d.Ips = l.texts()
					default:
						l.value(fi, depth+1)
					}
				}
			}
			r.Record = &flowpb.Layer7_Dns{Dns: d}
		case xHTTP:
			h := &flowpb.HTTP{}
			if l.open(depth + 1) {
				o := object{m: fi.msg}
				for fi := l.field(&o); fi != nil; fi = l.field(&o) {
					switch fi.id {
					case xHTTPMethod:
						h.Method = l.text()
					case xHTTPURL:
						h.Url = l.text()
					default:
						l.value(fi, depth+1)
					}
				}
			}
			r.Record = &flowpb.Layer7_Http{Http: h}
		default:
			l.value(fi, depth)
		}
	}
	return r
}
