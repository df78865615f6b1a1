package flows

import (
	"encoding/binary"
	"time"
	"unicode/utf8"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	"github.com/cilium/cilium/api/v1/observer"
	"google.golang.org/protobuf/reflect/protoreflect"
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

// valKind says how the fast path reads a value.
type valKind uint8

const (
	vDecline valKind = iota // protojson decides
	vString
	vBool
	vInt32
	vUint32
	vInt64
	vUint64
	vEnum
	vMessage
	vTimestamp
	vBoolValue
	vUInt32Value
	vInt32Value
	vStringValue
)

// fieldID names the fields the extraction stores; others are validated and
// skipped.
type fieldID uint8

const (
	xNone fieldID = iota
	xEventFlow
	xTime
	xVerdict
	xDropReason
	xDropReasonDesc
	xIP
	xL4
	xSource
	xDestination
	xSourceNames
	xDestinationNames
	xIsReply
	xReply
	xL7
	xAggregate
	xIPSource
	xIPDestination
	xTCP
	xUDP
	xSCTP
	xICMPv4
	xICMPv6
	xSourcePort
	xDestinationPort
	xFlags
	xSYN
	xACK
	xICMPType
	xICMPCode
	xIdentity
	xNamespace
	xLabels
	xPodName
	xWorkloads
	xWorkloadName
	xWorkloadKind
	xL7Type
	xDNS
	xHTTP
	xDNSQuery
	xDNSIPs
	xHTTPMethod
	xHTTPURL
)

// extracted maps the fields the extraction stores to their IDs.
var extracted = map[protoreflect.FullName]fieldID{
	"flow.Flow.time":              xTime,
	"flow.Flow.verdict":           xVerdict,
	"flow.Flow.drop_reason":       xDropReason,
	"flow.Flow.drop_reason_desc":  xDropReasonDesc,
	"flow.Flow.IP":                xIP,
	"flow.Flow.l4":                xL4,
	"flow.Flow.source":            xSource,
	"flow.Flow.destination":       xDestination,
	"flow.Flow.source_names":      xSourceNames,
	"flow.Flow.destination_names": xDestinationNames,
	"flow.Flow.is_reply":          xIsReply,
	"flow.Flow.reply":             xReply,
	"flow.Flow.l7":                xL7,
	"flow.Flow.aggregate":         xAggregate,
	"flow.IP.source":              xIPSource,
	"flow.IP.destination":         xIPDestination,
	"flow.Layer4.TCP":             xTCP,
	"flow.Layer4.UDP":             xUDP,
	"flow.Layer4.SCTP":            xSCTP,
	"flow.Layer4.ICMPv4":          xICMPv4,
	"flow.Layer4.ICMPv6":          xICMPv6,
	"flow.TCP.source_port":        xSourcePort,
	"flow.TCP.destination_port":   xDestinationPort,
	"flow.TCP.flags":              xFlags,
	"flow.UDP.source_port":        xSourcePort,
	"flow.UDP.destination_port":   xDestinationPort,
	"flow.SCTP.source_port":       xSourcePort,
	"flow.SCTP.destination_port":  xDestinationPort,
	"flow.TCPFlags.SYN":           xSYN,
	"flow.TCPFlags.ACK":           xACK,
	"flow.ICMPv4.type":            xICMPType,
	"flow.ICMPv4.code":            xICMPCode,
	"flow.ICMPv6.type":            xICMPType,
	"flow.ICMPv6.code":            xICMPCode,
	"flow.Endpoint.identity":      xIdentity,
	"flow.Endpoint.namespace":     xNamespace,
	"flow.Endpoint.labels":        xLabels,
	"flow.Endpoint.pod_name":      xPodName,
	"flow.Endpoint.workloads":     xWorkloads,
	"flow.Workload.name":          xWorkloadName,
	"flow.Workload.kind":          xWorkloadKind,
	"flow.Layer7.type":            xL7Type,
	"flow.Layer7.dns":             xDNS,
	"flow.Layer7.http":            xHTTP,
	"flow.DNS.query":              xDNSQuery,
	"flow.DNS.ips":                xDNSIPs,
	"flow.HTTP.method":            xHTTPMethod,
	"flow.HTTP.url":               xHTTPURL,
	"observer.ExportEvent.flow":   xEventFlow,
}

// fieldInfo is what the fast path knows of one field.
type fieldInfo struct {
	index uint // position in its message (for the duplicate mask)
	oneof uint // 1 + index of its (non-synthetic) oneof, or 0
	kind  valKind
	list  bool
	msg   *msgInfo                           // vMessage
	enum  map[string]protoreflect.EnumNumber // vEnum
	id    fieldID
}

// msgInfo finds a message's fields by JSON or proto name.
type msgInfo struct {
	slots [64][]keyEntry
}

type keyEntry struct {
	key string
	fi  *fieldInfo
}

func keySlot(k []byte) int {
	n := len(k)
	if n == 0 {
		return 0
	}
	return (n*7 + int(k[0])*3 + int(k[n-1])*5 + int(k[n/2])) & 63
}

func (m *msgInfo) lookup(k []byte) *fieldInfo {
	for _, e := range m.slots[keySlot(k)] {
		if e.key == string(k) {
			return e.fi
		}
	}
	return nil
}

// The tables of the messages the fast path reads, built at start-up.
var (
	eventInfo, flowInfo, epInfo, ipInfo, l4Info, l7Info *msgInfo
	// The fields besides the extracted ones by which decoder.decode
	// recognizes a bare flow (bareKeys).
	flowType, flowEventType, flowDirection *fieldInfo
)

func init() { buildTables() }

func buildTables() {
	msgs := map[protoreflect.FullName]*msgInfo{}
	enums := map[protoreflect.FullName]map[string]protoreflect.EnumNumber{}
	var build func(md protoreflect.MessageDescriptor) *msgInfo
	build = func(md protoreflect.MessageDescriptor) *msgInfo {
		if m, ok := msgs[md.FullName()]; ok {
			return m
		}
		m := &msgInfo{}
		msgs[md.FullName()] = m
		if md.Fields().Len() > 64 || md.Oneofs().Len() > 64 {
			return m // no field is found: every value of it declines
		}
		for i := 0; i < md.Fields().Len(); i++ {
			fd := md.Fields().Get(i)
			fi := &fieldInfo{index: uint(i), list: fd.IsList(), kind: kindOf(fd), id: extracted[fd.FullName()]}
			if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
				fi.oneof = uint(od.Index()) + 1
			}
			if fd.IsMap() {
				fi.kind = vDecline
			}
			switch fi.kind {
			case vMessage:
				fi.msg = build(fd.Message())
			case vEnum:
				ed := fd.Enum()
				names, ok := enums[ed.FullName()]
				if !ok {
					names = map[string]protoreflect.EnumNumber{}
					for j := 0; j < ed.Values().Len(); j++ {
						v := ed.Values().Get(j)
						names[string(v.Name())] = v.Number()
					}
					enums[ed.FullName()] = names
				}
				fi.enum = names
			}
			for _, name := range []string{fd.JSONName(), string(fd.Name())} {
				s := keySlot([]byte(name))
				dup := false
				for _, e := range m.slots[s] {
					dup = dup || e.key == name
				}
				if !dup {
					m.slots[s] = append(m.slots[s], keyEntry{name, fi})
				}
			}
		}
		return m
	}
	eventInfo = build((&observer.ExportEvent{}).ProtoReflect().Descriptor())
	flowInfo = build((&flowpb.Flow{}).ProtoReflect().Descriptor())
	epInfo = build((&flowpb.Endpoint{}).ProtoReflect().Descriptor())
	ipInfo = flowInfo.lookup([]byte("IP")).msg
	l4Info = flowInfo.lookup([]byte("l4")).msg
	l7Info = flowInfo.lookup([]byte("l7")).msg
	flowType = flowInfo.lookup([]byte("Type"))
	flowEventType = flowInfo.lookup([]byte("event_type"))
	flowDirection = flowInfo.lookup([]byte("traffic_direction"))
}

func kindOf(fd protoreflect.FieldDescriptor) valKind {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		switch fd.Message().FullName() {
		case "google.protobuf.Timestamp":
			return vTimestamp
		case "google.protobuf.BoolValue":
			return vBoolValue
		case "google.protobuf.UInt32Value":
			return vUInt32Value
		case "google.protobuf.Int32Value":
			return vInt32Value
		case "google.protobuf.StringValue":
			return vStringValue
		}
		if fd.Message().FullName().Parent() == "google.protobuf" {
			return vDecline // Any, Struct, Duration, …: protojson decides
		}
		return vMessage
	case protoreflect.EnumKind:
		return vEnum
	case protoreflect.StringKind:
		return vString
	case protoreflect.BoolKind:
		return vBool
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return vInt32
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return vUint32
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return vInt64
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return vUint64
	}
	return vDecline // floats, bytes: protojson decides
}

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

// lexer reads one JSON value; bad is set (and sticks) when the fast path
// must decline.
type lexer struct {
	b       []byte
	i       int
	bad     bool
	bare    bool // a key that marks a bare flow was seen
	sawFlow bool // an ExportEvent's flow was read
	d       *fastDecoder
}

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (l *lexer) ws() {
	for l.i < len(l.b) && isWS(l.b[l.i]) {
		l.i++
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (l *lexer) peek() byte {
	l.ws()
	if l.i >= len(l.b) {
		return 0
	}
	return l.b[l.i]
}

// object reads the fields of one object of message m.
type object struct {
	m      *msgInfo
	seen   uint64 // field indexes
	oneofs uint64 // oneof indexes
	n      int
}

// open expects '{'.
func (l *lexer) open(depth int) bool {
	if depth > maxDepth || l.bad || l.peek() != '{' {
		l.bad = true
		return false
	}
	l.i++
	return true
}

// field returns the next field of the object (positioned at its value),
// or nil at its end or when declining.
func (l *lexer) field(o *object) *fieldInfo {
	if l.bad {
		return nil
	}
	c := l.peek()
	if o.n > 0 {
		if c == '}' {
			l.i++
			return nil
		}
		if c != ',' {
			l.bad = true
			return nil
		}
		l.i++
		c = l.peek()
	} else if c == '}' {
		l.i++
		return nil
	}
	o.n++
	if c != '"' {
		l.bad = true
		return nil
	}
	k, esc := l.str()
	if esc || l.bad {
		l.bad = true
		return nil
	}
	fi := o.m.lookup(k)
	if fi == nil || o.seen&(1<<fi.index) != 0 {
		l.bad = true // unknown, or a duplicate (perhaps under its other name)
		return nil
	}
	o.seen |= 1 << fi.index
	if fi.oneof != 0 {
		if o.oneofs&(1<<(fi.oneof-1)) != 0 {
			l.bad = true
			return nil
		}
		o.oneofs |= 1 << (fi.oneof - 1)
	}
	if l.peek() != ':' {
		l.bad = true
		return nil
	}
	l.i++
	if c := l.peek(); c == 'n' || c == 0 {
		l.bad = true // null: protojson decides
		return nil
	}
	return fi
}

// strSafe marks the bytes a string may hold without a closer look.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return
}()

// str reads a string and returns its raw contents and whether it holds
// escapes. It declines control characters, invalid UTF-8, escapes other
// than the JSON ones and \u escapes of surrogates (which the two parsers
// might read differently).
func (l *lexer) str() ([]byte, bool) {
	if l.i >= len(l.b) || l.b[l.i] != '"' {
		l.bad = true
		return nil, false
	}
	l.i++
	start := l.i
	b := l.b
	i := l.i
	esc, high := false, false
	for {
		// Eight bytes at a time while none needs a closer look.
		for i+8 <= len(b) && plain8(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && strSafe[b[i]] {
			i++
		}
		if i >= len(b) {
			l.bad = true
			return nil, false
		}
		switch c := b[i]; {
		case c == '"':
			s := b[start:i]
			l.i = i + 1
			if high && !utf8.Valid(s) {
				l.bad = true
			}
			return s, esc
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				l.bad = true
				return nil, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				r, ok := hex4(b, i+2)
				if !ok || (r >= 0xD800 && r <= 0xDFFF) {
					l.bad = true
					return nil, false
				}
				i += 6
			default:
				l.bad = true
				return nil, false
			}
		case c < 0x20:
			l.bad = true
			return nil, false
		default:
			high = true
			i++
		}
	}
}

// plain8 reports whether none of the eight bytes of v is a control
// character, a quote, a backslash or non-ASCII.
func plain8(v uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	zero := func(x uint64) uint64 { return (x - ones) & ^x & highs }
	return (v&highs)|((v-0x20*ones) & ^v & highs)|zero(v^('"'*ones))|zero(v^('\\'*ones)) == 0
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, h := range b[i : i+4] {
		switch {
		case h >= '0' && h <= '9':
			r = r*16 + rune(h-'0')
		case h >= 'a' && h <= 'f':
			r = r*16 + rune(h-'a'+10)
		case h >= 'A' && h <= 'F':
			r = r*16 + rune(h-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// unescape decodes the escapes str accepted.
func unescape(s []byte) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch s[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, _ := hex4(s, i+1)
			out = utf8.AppendRune(out, r)
			i += 4
		default: // " \ /
			out = append(out, s[i])
		}
	}
	return string(out)
}

// text reads a string value.
func (l *lexer) text() string {
	s, esc := l.str()
	if l.bad {
		return ""
	}
	if esc {
		return unescape(s)
	}
	return string(s)
}

// element moves to element n of an array, opening it at n == 0; it
// returns false at the array's end (consumed) or when declining.
func (l *lexer) element(n int) bool {
	if l.bad {
		return false
	}
	c := l.peek()
	if n == 0 {
		if c != '[' {
			l.bad = true
			return false
		}
		l.i++
		c = l.peek()
	}
	if c == ']' {
		l.i++
		return false
	}
	if n > 0 {
		if c != ',' {
			l.bad = true
			return false
		}
		l.i++
	}
	return true
}

// texts reads a list of strings.
func (l *lexer) texts() []string {
	var out []string
	for n := 0; l.element(n); n++ {
		if l.peek() != '"' {
			l.bad = true
			break
		}
		out = append(out, l.text())
	}
	return out
}

// delim reports whether a number or literal ended where one may: protojson
// reads "80x" or "truex" as one bad token.
func (l *lexer) delim() {
	if l.i < len(l.b) {
		switch c := l.b[l.i]; {
		case c == '-' || c == '+' || c == '.' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			l.bad = true
		}
	}
}

// boolean reads true or false.
func (l *lexer) boolean() bool {
	switch {
	case hasPrefixAt(l.b, l.i, "true"):
		l.i += 4
		l.delim()
		return true
	case hasPrefixAt(l.b, l.i, "false"):
		l.i += 5
		l.delim()
		return false
	}
	l.bad = true
	return false
}

// numberLiteral reads the digits (and signs) of a number or of a quoted
// number without escapes; parsing them is the caller's.
func (l *lexer) numberLiteral() []byte {
	if l.peek() == '"' {
		s, esc := l.str()
		if esc {
			l.bad = true
		}
		return s
	}
	start := l.i
	for l.i < len(l.b) && (l.b[l.i] == '-' || l.b[l.i] >= '0' && l.b[l.i] <= '9') {
		l.i++
	}
	lit := l.b[start:l.i]
	l.delim()
	return lit
}

// integer reads an integer in [lo, hi], as a number or a quoted number:
// -?(0|[1-9][0-9]{0,19}). Fractions and exponents decline.
func (l *lexer) integer(lo, hi int64) int64 {
	lit := l.numberLiteral()
	if l.bad {
		return 0
	}
	n, ok := parseInt(lit)
	if !ok || n < lo || n > hi {
		l.bad = true
		return 0
	}
	return n
}

// parseInt parses -?(0|[1-9][0-9]{0,19}) within int64.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 20 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	if neg {
		n = -n
	}
	return n, true
}

// uint64Value validates a uint64 (numbers beyond int64 included).
func (l *lexer) uint64Value() {
	lit := l.numberLiteral()
	if l.bad {
		return
	}
	if len(lit) > 0 && lit[0] == '-' {
		if _, ok := parseInt(lit); !ok || string(lit) != "-0" {
			l.bad = true
		}
		return
	}
	if len(lit) == 0 || len(lit) > 20 || (lit[0] == '0' && len(lit) > 1) {
		l.bad = true
		return
	}
	var n uint64
	for _, c := range lit {
		if c < '0' || c > '9' {
			l.bad = true
			return
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			l.bad = true
			return
		}
		n = n*10 + d
	}
}

// enum reads an enum value: a name of the enum or an int32.
func (l *lexer) enum(names map[string]protoreflect.EnumNumber) protoreflect.EnumNumber {
	if l.peek() == '"' {
		s, esc := l.str()
		if l.bad {
			return 0
		}
		n, ok := names[string(s)]
		if esc || !ok {
			l.bad = true
		}
		return n
	}
	return protoreflect.EnumNumber(l.integer(-1<<31, 1<<31-1))
}

// timestamp reads YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z, the form Hubble writes,
// with the checks time.Parse(time.RFC3339Nano) makes (protojson's parser).
func (l *lexer) timestamp() (sec int64, nsec int32) {
	s, esc := l.str()
	if l.bad {
		return 0, 0
	}
	sec, nsec, ok := parseTimestamp(s)
	if esc || !ok {
		l.bad = true
	}
	return sec, nsec
}

func parseTimestamp(b []byte) (int64, int32, bool) {
	const shape = "0000-00-00T00:00:00"
	if len(b) < len(shape)+1 || b[len(b)-1] != 'Z' {
		return 0, 0, false
	}
	num := func(i, n int) int {
		v := 0
		for _, c := range b[i : i+n] {
			v = v*10 + int(c-'0')
		}
		return v
	}
	for i := 0; i < len(shape); i++ {
		if shape[i] == '0' {
			if b[i] < '0' || b[i] > '9' {
				return 0, 0, false
			}
		} else if b[i] != shape[i] {
			return 0, 0, false
		}
	}
	year, month, day := num(0, 4), num(5, 2), num(8, 2)
	hour, minute, second := num(11, 2), num(14, 2), num(17, 2)
	if year == 0 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || second > 59 {
		return 0, 0, false
	}
	frac := b[len(shape) : len(b)-1]
	nsec := 0
	if len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return 0, 0, false
		}
		for _, c := range frac[1:] {
			if c < '0' || c > '9' {
				return 0, 0, false
			}
			nsec = nsec*10 + int(c-'0')
		}
		for range 10 - len(frac) {
			nsec *= 10
		}
	}
	t := time.Date(year, time.Month(month), day, hour, minute, second, nsec, time.UTC)
	return t.Unix(), int32(nsec), true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// value validates (and skips) a value of field fi.
func (l *lexer) value(fi *fieldInfo, depth int) {
	if !fi.list {
		l.single(fi, depth)
		return
	}
	for n := 0; l.element(n); n++ {
		if l.peek() == 'n' {
			l.bad = true // null in a list
			return
		}
		l.single(fi, depth)
	}
}

func (l *lexer) single(fi *fieldInfo, depth int) {
	switch fi.kind {
	case vString, vStringValue:
		l.str()
	case vBool, vBoolValue:
		l.boolean()
	case vInt32, vInt32Value:
		l.integer(-1<<31, 1<<31-1)
	case vUint32, vUInt32Value:
		l.integer(0, 1<<32-1)
	case vInt64:
		l.integer(-1<<63, 1<<63-1)
	case vUint64:
		l.uint64Value()
	case vEnum:
		l.enum(fi.enum)
	case vTimestamp:
		l.timestamp()
	case vMessage:
		l.message(fi.msg, depth+1)
	default:
		l.bad = true
	}
}

// message validates (and skips) an object of message m.
func (l *lexer) message(m *msgInfo, depth int) {
	if !l.open(depth) {
		return
	}
	o := object{m: m}
	for fi := l.field(&o); fi != nil; fi = l.field(&o) {
		l.value(fi, depth)
	}
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
