package flows

import (
	flowpb "github.com/cilium/cilium/api/v1/flow"
	"github.com/cilium/cilium/api/v1/observer"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// This file holds the fast path's tables: for every message it reads,
// its fields by JSON name (both the proto name and the camelCase one),
// with how each value is read, built at start-up from the protobuf
// descriptors of Cilium's flow API.

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
