package flows

import (
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	"github.com/cilium/cilium/api/v1/observer"
	"github.com/valyala/fastjson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The fast path decodes the common shape of Hubble's JSON without
// protojson: a validating walk over the whole value, driven by the
// protobuf descriptors (every key must name a field; every value must have
// a type protojson accepts for it, with the same meaning), then a direct
// extraction of the fields ppc reads. Anything it cannot vouch for — an
// unknown field, a null, a number in exponent form, an Any, a duplicate
// key, … — makes it decline, and the record goes through protojson, which
// reports the error or warning. So the fast path changes speed, never
// results; the differential tests and FuzzFastDecode hold it to that.

// fields maps a message's JSON names and proto names to its fields.
type fields map[string]protoreflect.FieldDescriptor

var (
	descOnce sync.Once
	descs    map[protoreflect.FullName]fields
)

func fieldsOf(md protoreflect.MessageDescriptor) fields {
	descOnce.Do(func() {
		descs = map[protoreflect.FullName]fields{}
		var add func(md protoreflect.MessageDescriptor)
		add = func(md protoreflect.MessageDescriptor) {
			if _, ok := descs[md.FullName()]; ok {
				return
			}
			fs := fields{}
			descs[md.FullName()] = fs
			for i := 0; i < md.Fields().Len(); i++ {
				fd := md.Fields().Get(i)
				fs[fd.JSONName()] = fd
				fs[string(fd.Name())] = fd
				if m := fd.Message(); m != nil {
					add(m)
				}
			}
		}
		add((&observer.ExportEvent{}).ProtoReflect().Descriptor())
		add((&flowpb.Flow{}).ProtoReflect().Descriptor())
	})
	return descs[md.FullName()]
}

var (
	exportEventDesc = (&observer.ExportEvent{}).ProtoReflect().Descriptor()
	flowDesc        = (&flowpb.Flow{}).ProtoReflect().Descriptor()
	verdictEnum     = flowpb.Verdict(0).Descriptor()
	dropReasonEnum  = flowpb.DropReason(0).Descriptor()
	l7TypeEnum      = flowpb.L7FlowType(0).Descriptor()
)

// fastDecoder holds a reusable parser; one per goroutine.
type fastDecoder struct {
	p fastjson.Parser
}

// decode returns the flow of data — an ExportEvent/GetFlowsResponse
// ("flow" key) when wrapped, else a bare Flow — or false when the record
// must go through protojson.
func (d *fastDecoder) decode(data []byte, wrapped bool) (*flowpb.Flow, bool) {
	if !plainStrings(data) {
		return nil, false
	}
	v, err := d.p.ParseBytes(data)
	if err != nil {
		return nil, false
	}
	if wrapped {
		if !validMessage(v, exportEventDesc, 0) {
			return nil, false
		}
		v = v.Get("flow")
		if v == nil || v.Type() != fastjson.TypeObject {
			return nil, false
		}
	} else if !validMessage(v, flowDesc, 0) {
		return nil, false
	}
	f := &flowpb.Flow{}
	extractFlow(v, f)
	return f, true
}

// plainStrings reports whether every string in data uses only escapes
// both parsers read the same way: the JSON escapes, \u outside the
// surrogate range, no raw control characters.
func plainStrings(data []byte) bool {
	in := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if !in {
			if c == '"' {
				in = true
			}
			continue
		}
		switch {
		case c == '"':
			in = false
		case c < 0x20:
			return false
		case c == '\\':
			if i+1 >= len(data) {
				return false
			}
			i++
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(data) {
					return false
				}
				var r rune
				for _, h := range data[i+1 : i+5] {
					switch {
					case h >= '0' && h <= '9':
						r = r*16 + rune(h-'0')
					case h >= 'a' && h <= 'f':
						r = r*16 + rune(h-'a'+10)
					case h >= 'A' && h <= 'F':
						r = r*16 + rune(h-'A'+10)
					default:
						return false
					}
				}
				if r >= 0xD800 && r <= 0xDFFF {
					return false
				}
				i += 4
			default:
				return false
			}
		}
	}
	return !in
}

const maxDepth = 32

// validMessage reports whether protojson would accept v as md, with the
// values the extraction reads.
func validMessage(v *fastjson.Value, md protoreflect.MessageDescriptor, depth int) bool {
	if depth > maxDepth || v.Type() != fastjson.TypeObject {
		return false
	}
	fs := fieldsOf(md)
	obj, _ := v.Object()
	ok := true
	var seen [16]protoreflect.FieldNumber
	nseen := 0
	var oneofs []protoreflect.OneofDescriptor
	obj.Visit(func(k []byte, fv *fastjson.Value) {
		if !ok {
			return
		}
		fd := fs[string(k)]
		if fd == nil || fv.Type() == fastjson.TypeNull {
			ok = false
			return
		}
		for _, n := range seen[:min(nseen, len(seen))] {
			if n == fd.Number() {
				ok = false // duplicate (perhaps under its other name)
				return
			}
		}
		if nseen == len(seen) {
			ok = false // more keys than a flow has: protojson decides
			return
		}
		seen[nseen] = fd.Number()
		nseen++
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			for _, o := range oneofs {
				if o == od {
					ok = false
					return
				}
			}
			oneofs = append(oneofs, od)
		}
		ok = validField(fv, fd, depth)
	})
	return ok
}

func validField(v *fastjson.Value, fd protoreflect.FieldDescriptor, depth int) bool {
	if fd.IsMap() {
		return false
	}
	if fd.IsList() {
		arr, err := v.Array()
		if err != nil {
			return false
		}
		for _, e := range arr {
			if e.Type() == fastjson.TypeNull || !validSingle(e, fd, depth) {
				return false
			}
		}
		return true
	}
	return validSingle(v, fd, depth)
}

// isInt: -?(0|[1-9][0-9]{0,19}), the integer literals the fast path takes.
func isInt(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 20 || (b[0] == '0' && len(b) > 1) {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isTimestamp: YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z, the form Hubble writes.
func isTimestamp(b []byte) bool {
	const shape = "0000-00-00T00:00:00"
	if len(b) < len(shape)+1 || b[len(b)-1] != 'Z' {
		return false
	}
	for i := 0; i < len(shape); i++ {
		if shape[i] == '0' {
			if b[i] < '0' || b[i] > '9' {
				return false
			}
		} else if b[i] != shape[i] {
			return false
		}
	}
	if string(b[:4]) == "0000" {
		return false // before 0001-01-01: out of Timestamp's range
	}
	frac := b[len(shape) : len(b)-1]
	if len(frac) == 0 {
		return true
	}
	if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
		return false
	}
	for _, c := range frac[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// enumNames caches each enum's names for allocation-free lookups.
var enumNames sync.Map // protoreflect.FullName -> map[string]protoreflect.EnumNumber

func enumNumber(ed protoreflect.EnumDescriptor, name []byte) (protoreflect.EnumNumber, bool) {
	m, ok := enumNames.Load(ed.FullName())
	if !ok {
		names := map[string]protoreflect.EnumNumber{}
		for i := 0; i < ed.Values().Len(); i++ {
			v := ed.Values().Get(i)
			names[string(v.Name())] = v.Number()
		}
		m, _ = enumNames.LoadOrStore(ed.FullName(), names)
	}
	n, ok := m.(map[string]protoreflect.EnumNumber)[string(name)]
	return n, ok
}

// validStr: a JSON string of valid UTF-8.
func validStr(v *fastjson.Value) bool {
	if v.Type() != fastjson.TypeString {
		return false
	}
	b, _ := v.StringBytes()
	return utf8.Valid(b)
}

func validSingle(v *fastjson.Value, fd protoreflect.FieldDescriptor, depth int) bool {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		switch fd.Message().FullName() {
		case "google.protobuf.Timestamp":
			if v.Type() != fastjson.TypeString {
				return false
			}
			b, _ := v.StringBytes()
			if !isTimestamp(b) {
				return false
			}
			_, err := time.Parse(time.RFC3339Nano, string(b))
			return err == nil
		case "google.protobuf.BoolValue":
			return v.Type() == fastjson.TypeTrue || v.Type() == fastjson.TypeFalse
		case "google.protobuf.UInt32Value":
			_, ok := integer(v, 0, 1<<32-1)
			return ok
		case "google.protobuf.Int32Value":
			_, ok := integer(v, -1<<31, 1<<31-1)
			return ok
		case "google.protobuf.StringValue":
			return validStr(v)
		}
		if fd.Message().FullName().Parent() == "google.protobuf" {
			return false // Any, Struct, Duration, …: protojson decides
		}
		return validMessage(v, fd.Message(), depth+1)
	case protoreflect.EnumKind:
		if v.Type() == fastjson.TypeString {
			b, _ := v.StringBytes()
			_, ok := enumNumber(fd.Enum(), b)
			return ok
		}
		_, ok := integer(v, -1<<31, 1<<31-1)
		return ok
	case protoreflect.StringKind:
		return validStr(v)
	case protoreflect.BoolKind:
		return v.Type() == fastjson.TypeTrue || v.Type() == fastjson.TypeFalse
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		_, ok := integer(v, -1<<31, 1<<31-1)
		return ok
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		_, ok := integer(v, 0, 1<<32-1)
		return ok
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		_, ok := integer(v, -1<<63, 1<<63-1)
		return ok
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if b, ok := rawInt(v); ok {
			_, err := strconv.ParseUint(string(b), 10, 64)
			return err == nil
		}
		return false
	}
	return false // floats, bytes: protojson decides
}

// rawInt is the literal of an integer number or quoted integer.
func rawInt(v *fastjson.Value) ([]byte, bool) {
	var b []byte
	switch v.Type() {
	case fastjson.TypeNumber:
		b = v.MarshalTo(nil)
	case fastjson.TypeString:
		b, _ = v.StringBytes()
	default:
		return nil, false
	}
	return b, isInt(b)
}

func integer(v *fastjson.Value, lo, hi int64) (int64, bool) {
	var b []byte
	switch v.Type() {
	case fastjson.TypeNumber:
		var buf [24]byte
		b = v.MarshalTo(buf[:0])
	case fastjson.TypeString:
		b, _ = v.StringBytes()
	default:
		return 0, false
	}
	if !isInt(b) {
		return 0, false
	}
	var n int64
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	for _, c := range b {
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	if neg {
		n = -n
	}
	if n < lo || n > hi {
		return 0, false
	}
	return n, true
}

func str(v *fastjson.Value) (string, bool) {
	if v.Type() != fastjson.TypeString {
		return "", false
	}
	b, _ := v.StringBytes()
	if !utf8.Valid(b) {
		return "", false
	}
	return string(b), true
}

// The extraction below runs on validated values only.

func getStr(v *fastjson.Value) string {
	s, _ := str(v)
	return s
}

func getU32(v *fastjson.Value) uint32 {
	n, _ := integer(v, 0, 1<<32-1)
	return uint32(n)
}

func getEnum(v *fastjson.Value, ed protoreflect.EnumDescriptor) protoreflect.EnumNumber {
	if v.Type() == fastjson.TypeString {
		b, _ := v.StringBytes()
		n, _ := enumNumber(ed, b)
		return n
	}
	n, _ := integer(v, -1<<31, 1<<31-1)
	return protoreflect.EnumNumber(n)
}

func getStrings(v *fastjson.Value) []string {
	arr, _ := v.Array()
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		out = append(out, getStr(e))
	}
	return out
}

// visit calls fn with the proto name of every field of a validated object.
func visit(v *fastjson.Value, md protoreflect.MessageDescriptor, fn func(name protoreflect.Name, v *fastjson.Value)) {
	fs := fieldsOf(md)
	obj, _ := v.Object()
	obj.Visit(func(k []byte, fv *fastjson.Value) {
		fn(fs[string(k)].Name(), fv)
	})
}

var (
	ipDesc       = (&flowpb.IP{}).ProtoReflect().Descriptor()
	l4Desc       = (&flowpb.Layer4{}).ProtoReflect().Descriptor()
	tcpDesc      = (&flowpb.TCP{}).ProtoReflect().Descriptor()
	udpDesc      = (&flowpb.UDP{}).ProtoReflect().Descriptor()
	sctpDesc     = (&flowpb.SCTP{}).ProtoReflect().Descriptor()
	icmp4Desc    = (&flowpb.ICMPv4{}).ProtoReflect().Descriptor()
	icmp6Desc    = (&flowpb.ICMPv6{}).ProtoReflect().Descriptor()
	flagsDesc    = (&flowpb.TCPFlags{}).ProtoReflect().Descriptor()
	epDesc       = (&flowpb.Endpoint{}).ProtoReflect().Descriptor()
	workloadDesc = (&flowpb.Workload{}).ProtoReflect().Descriptor()
	l7Desc       = (&flowpb.Layer7{}).ProtoReflect().Descriptor()
	dnsDesc      = (&flowpb.DNS{}).ProtoReflect().Descriptor()
	httpDesc     = (&flowpb.HTTP{}).ProtoReflect().Descriptor()
)

func extractFlow(v *fastjson.Value, f *flowpb.Flow) {
	visit(v, flowDesc, func(name protoreflect.Name, fv *fastjson.Value) {
		switch name {
		case "time":
			t, _ := time.Parse(time.RFC3339Nano, getStr(fv))
			f.Time = timestamppb.New(t)
		case "verdict":
			f.Verdict = flowpb.Verdict(getEnum(fv, verdictEnum))
		case "drop_reason":
			//lint:ignore SA1019 older Hubble versions give only the legacy field; lower reads it on purpose
			f.DropReason = getU32(fv)
		case "drop_reason_desc":
			f.DropReasonDesc = flowpb.DropReason(getEnum(fv, dropReasonEnum))
		case "IP":
			f.IP = &flowpb.IP{}
			visit(fv, ipDesc, func(n protoreflect.Name, x *fastjson.Value) {
				switch n {
				case "source":
					f.IP.Source = getStr(x)
				case "destination":
					f.IP.Destination = getStr(x)
				}
			})
		case "l4":
			f.L4 = extractL4(fv)
		case "source":
			f.Source = extractEndpoint(fv)
		case "destination":
			f.Destination = extractEndpoint(fv)
		case "source_names":
			f.SourceNames = getStrings(fv)
		case "destination_names":
			f.DestinationNames = getStrings(fv)
		case "is_reply":
			f.IsReply = wrapperspb.Bool(fv.Type() == fastjson.TypeTrue)
		case "reply":
			//lint:ignore SA1019 agents before Cilium 1.9 give only the legacy reply flag; lower reads it on purpose
			f.Reply = fv.Type() == fastjson.TypeTrue
		case "l7":
			f.L7 = extractL7(fv)
		case "aggregate":
			f.Aggregate = &flowpb.Aggregate{}
		}
	})
}

func ports(v *fastjson.Value, md protoreflect.MessageDescriptor) (src, dst uint32, flags *flowpb.TCPFlags) {
	visit(v, md, func(n protoreflect.Name, x *fastjson.Value) {
		switch n {
		case "source_port":
			src = getU32(x)
		case "destination_port":
			dst = getU32(x)
		case "flags":
			flags = &flowpb.TCPFlags{}
			visit(x, flagsDesc, func(n protoreflect.Name, y *fastjson.Value) {
				switch n {
				case "SYN":
					flags.SYN = y.Type() == fastjson.TypeTrue
				case "ACK":
					flags.ACK = y.Type() == fastjson.TypeTrue
				}
			})
		}
	})
	return
}

func icmp(v *fastjson.Value, md protoreflect.MessageDescriptor) (typ, code uint32) {
	visit(v, md, func(n protoreflect.Name, x *fastjson.Value) {
		switch n {
		case "type":
			typ = getU32(x)
		case "code":
			code = getU32(x)
		}
	})
	return
}

func extractL4(v *fastjson.Value) *flowpb.Layer4 {
	l := &flowpb.Layer4{}
	visit(v, l4Desc, func(n protoreflect.Name, x *fastjson.Value) {
		switch n {
		case "TCP":
			s, d, fl := ports(x, tcpDesc)
			l.Protocol = &flowpb.Layer4_TCP{TCP: &flowpb.TCP{SourcePort: s, DestinationPort: d, Flags: fl}}
		case "UDP":
			s, d, _ := ports(x, udpDesc)
			l.Protocol = &flowpb.Layer4_UDP{UDP: &flowpb.UDP{SourcePort: s, DestinationPort: d}}
		case "SCTP":
			s, d, _ := ports(x, sctpDesc)
			l.Protocol = &flowpb.Layer4_SCTP{SCTP: &flowpb.SCTP{SourcePort: s, DestinationPort: d}}
		case "ICMPv4":
			t, c := icmp(x, icmp4Desc)
			l.Protocol = &flowpb.Layer4_ICMPv4{ICMPv4: &flowpb.ICMPv4{Type: t, Code: c}}
		case "ICMPv6":
			t, c := icmp(x, icmp6Desc)
			l.Protocol = &flowpb.Layer4_ICMPv6{ICMPv6: &flowpb.ICMPv6{Type: t, Code: c}}
		}
	})
	return l
}

func extractEndpoint(v *fastjson.Value) *flowpb.Endpoint {
	ep := &flowpb.Endpoint{}
	visit(v, epDesc, func(n protoreflect.Name, x *fastjson.Value) {
		switch n {
		case "identity":
			ep.Identity = getU32(x)
		case "namespace":
			ep.Namespace = getStr(x)
		case "labels":
			ep.Labels = getStrings(x)
		case "pod_name":
			ep.PodName = getStr(x)
		case "workloads":
			arr, _ := x.Array()
			for _, w := range arr {
				wl := &flowpb.Workload{}
				visit(w, workloadDesc, func(n protoreflect.Name, y *fastjson.Value) {
					switch n {
					case "name":
						wl.Name = getStr(y)
					case "kind":
						wl.Kind = getStr(y)
					}
				})
				ep.Workloads = append(ep.Workloads, wl)
			}
		}
	})
	return ep
}

func extractL7(v *fastjson.Value) *flowpb.Layer7 {
	l := &flowpb.Layer7{}
	visit(v, l7Desc, func(n protoreflect.Name, x *fastjson.Value) {
		switch n {
		case "type":
			l.Type = flowpb.L7FlowType(getEnum(x, l7TypeEnum))
		case "dns":
			d := &flowpb.DNS{}
			visit(x, dnsDesc, func(n protoreflect.Name, y *fastjson.Value) {
				switch n {
				case "query":
					d.Query = getStr(y)
				case "ips":
					d.Ips = getStrings(y)
				}
			})
			l.Record = &flowpb.Layer7_Dns{Dns: d}
		case "http":
			h := &flowpb.HTTP{}
			visit(x, httpDesc, func(n protoreflect.Name, y *fastjson.Value) {
				switch n {
				case "method":
					h.Method = getStr(y)
				case "url":
					h.Url = getStr(y)
				}
			})
			l.Record = &flowpb.Layer7_Http{Http: h}
		}
	})
	return l
}
