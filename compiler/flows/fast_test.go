package flows

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// project keeps the fields the fast path extracts.
func project(f *flowpb.Flow) *flowpb.Flow {
	p := &flowpb.Flow{Time: f.GetTime(), Verdict: f.GetVerdict(), DropReasonDesc: f.GetDropReasonDesc(),
		SourceNames: f.GetSourceNames(), DestinationNames: f.GetDestinationNames()}
	//lint:ignore SA1019 the legacy fields are part of what the fast path extracts
	p.DropReason, p.Reply = f.GetDropReason(), f.GetReply()
	if f.GetIsReply() != nil {
		p.IsReply = wrapperspb.Bool(f.GetIsReply().GetValue())
	}
	if ip := f.GetIP(); ip != nil {
		p.IP = &flowpb.IP{Source: ip.GetSource(), Destination: ip.GetDestination()}
	}
	if l := f.GetL4(); l != nil {
		p.L4 = &flowpb.Layer4{}
		switch {
		case l.GetTCP() != nil:
			t := l.GetTCP()
			c := &flowpb.TCP{SourcePort: t.GetSourcePort(), DestinationPort: t.GetDestinationPort()}
			if fl := t.GetFlags(); fl != nil {
				c.Flags = &flowpb.TCPFlags{SYN: fl.GetSYN(), ACK: fl.GetACK()}
			}
			p.L4.Protocol = &flowpb.Layer4_TCP{TCP: c}
		case l.GetUDP() != nil:
			p.L4.Protocol = &flowpb.Layer4_UDP{UDP: &flowpb.UDP{SourcePort: l.GetUDP().GetSourcePort(), DestinationPort: l.GetUDP().GetDestinationPort()}}
		case l.GetSCTP() != nil:
			p.L4.Protocol = &flowpb.Layer4_SCTP{SCTP: &flowpb.SCTP{SourcePort: l.GetSCTP().GetSourcePort(), DestinationPort: l.GetSCTP().GetDestinationPort()}}
		case l.GetICMPv4() != nil:
			p.L4.Protocol = &flowpb.Layer4_ICMPv4{ICMPv4: &flowpb.ICMPv4{Type: l.GetICMPv4().GetType(), Code: l.GetICMPv4().GetCode()}}
		case l.GetICMPv6() != nil:
			p.L4.Protocol = &flowpb.Layer4_ICMPv6{ICMPv6: &flowpb.ICMPv6{Type: l.GetICMPv6().GetType(), Code: l.GetICMPv6().GetCode()}}
		}
	}
	ep := func(e *flowpb.Endpoint) *flowpb.Endpoint {
		if e == nil {
			return nil
		}
		c := &flowpb.Endpoint{Identity: e.GetIdentity(), Namespace: e.GetNamespace(), Labels: e.GetLabels(), PodName: e.GetPodName()}
		for _, w := range e.GetWorkloads() {
			c.Workloads = append(c.Workloads, &flowpb.Workload{Name: w.GetName(), Kind: w.GetKind()})
		}
		return c
	}
	p.Source, p.Destination = ep(f.GetSource()), ep(f.GetDestination())
	if l := f.GetL7(); l != nil {
		p.L7 = &flowpb.Layer7{Type: l.GetType()}
		switch {
		case l.GetDns() != nil:
			p.L7.Record = &flowpb.Layer7_Dns{Dns: &flowpb.DNS{Query: l.GetDns().GetQuery(), Ips: l.GetDns().GetIps()}}
		case l.GetHttp() != nil:
			p.L7.Record = &flowpb.Layer7_Http{Http: &flowpb.HTTP{Method: l.GetHttp().GetMethod(), Url: l.GetHttp().GetUrl()}}
		}
	}
	if f.GetAggregate() != nil {
		p.Aggregate = &flowpb.Aggregate{}
	}
	return p
}

// checkFast: whenever the fast path accepts data, the slow path (the
// reader's classification of the value, then protojson) accepts it too,
// without warnings, and the fields ppc reads are equal.
func checkFast(t *testing.T, data []byte) bool {
	t.Helper()
	return checkFastWith(t, &fastDecoder{}, data)
}

// checkFastWith is checkFast with a decoder that may remember endpoints
// from earlier values.
func checkFastWith(t *testing.T, fd *fastDecoder, data []byte) bool {
	t.Helper()
	got, _, ok := fd.decode(data)
	if !ok {
		return false
	}
	// Again, with what the decoder remembers of the first time.
	if again, _, ok := fd.decode(data); !ok || !proto.Equal(got, again) {
		t.Fatalf("fast path decodes the same bytes differently the second time: %s", data)
	}
	v, err := newScanner(bytesReader(data), 0).next()
	if err != nil {
		t.Fatalf("fast path accepted what the scanner rejects (%v): %s", err, data)
	}
	slow := decoder{file: "x", warned: map[string]bool{}, slow: true}
	recs, err := slow.decode(v, false)
	if err != nil || len(recs) != 1 || recs[0].Kind != KindFlow || len(slow.warnings) > 0 {
		t.Fatalf("fast path accepted what the slow path reads otherwise (%v, %d records, %v): %s", err, len(recs), slow.warnings, data)
	}
	want := recs[0].Flow
	if !proto.Equal(got, project(want)) {
		t.Fatalf("fast path and protojson differ on %s:\nfast     %v\nprotojson %v", data, got, project(want))
	}
	return true
}

// TestFastSamples runs every value of the real samples through both.
func TestFastSamples(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "flows", "*.json*"))
	fast := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := newScanner(bytesReader(b), 0)
		for {
			v, err := sc.next()
			if err != nil {
				break
			}
			if checkFast(t, v.data) {
				fast++
			}
		}
	}
	if fast < 2000 {
		t.Errorf("only %d sample flows took the fast path", fast)
	}
}

// FuzzFastDecode: the fast path never accepts what protojson would decode
// differently.
func FuzzFastDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "flows", "hubble-otel-basic-sample-1*.json"))
	for _, p := range files {
		b, _ := os.ReadFile(p)
		sc := newScanner(bytesReader(b), 0)
		for i := 0; i < 5; i++ {
			v, err := sc.next()
			if err != nil {
				break
			}
			f.Add(v.data, true)
		}
	}
	f.Add([]byte(`{"verdict":"FORWARDED","l4":{"TCP":{"destination_port":"80","flags":{"SYN":true}}},"source":{"identity":"123"}}`), false)
	f.Add([]byte(`{"flow":{"time":"2026-01-01T00:00:00.5Z","is_reply":false,"l7":{"type":"REQUEST","dns":{"query":"a.b.","ips":["1.2.3.4"]}}}}`), true)
	f.Fuzz(func(t *testing.T, data []byte, wrapped bool) {
		checkFast(t, data)
	})
}

// TestEndpointCache: one decoder reads flows whose endpoints share their
// first bytes (more than a cache key holds candidates), endpoints shorter
// than a key in different surroundings, and the same endpoint bytes
// followed by something else; every flow reads as protojson reads it.
func TestEndpointCache(t *testing.T) {
	var flows []string
	for i := range 7 {
		ep := fmt.Sprintf(`{"ID":1,"identity":101,"namespace":"ns-000","labels":["k8s:app=a"],"pod_name":"pod-%d"}`, i)
		flows = append(flows, `{"flow":{"verdict":"FORWARDED","source":`+ep+`,"destination":{"identity":2}}}`)
		flows = append(flows, `{"flow":{"source":{"identity":2},"destination":`+ep+`,"verdict":"DROPPED"}}`)
	}
	flows = append(flows,
		`{"flow":{"source":{"identity":2},"verdict":"FORWARDED"}}`,
		`{"flow":{"source":{"identity":2} ,"verdict":"FORWARDED"}}`,
		`{"flow":{"source":{"identity":2}}}`,
		`{"flow":{"source":{"identity":2,"namespace":"x"}}}`,
		`{"flow":{"source":{"identity":2},"destination":{"identity":2}}}`,
	)
	fd := &fastDecoder{}
	for round := range 3 {
		for i, f := range flows {
			if !checkFastWith(t, fd, []byte(f)) {
				t.Errorf("round %d: flow %d declined: %s", round, i, f)
			}
		}
	}
	// Cached bytes followed by an invalid rest must not be accepted.
	if _, _, ok := fd.decode([]byte(`{"flow":{"source":{"identity":2}x}}`)); ok {
		t.Error("the cache accepted an object followed by garbage")
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// TestFastEdgeCases: shapes where protojson's rules are subtle; the fast
// path either agrees with protojson or declines.
func TestFastEdgeCases(t *testing.T) {
	for _, c := range []struct {
		json   string
		accept bool // the fast path must take it (the common shapes)
	}{
		{`{"verdict":"FORWARDED","IP":{"source":"10.0.0.1"},"l4":{"TCP":{"destination_port":80}}}`, true},
		{`{"verdict":1,"l4":{"TCP":{"destinationPort":"80","sourcePort":1234}}}`, true},
		{`{"source":{"pod_name":"a\u00e9\n\"b"},"isReply":true,"Type":"L7"}`, true},
		{`{"source":{"pod_name":"bad \x escape"}}`, false},
		{`{"source":{"pod_name":"\ud800"}}`, false},
		{`{"verdict":"NOPE"}`, false},
		{`{"verdict":"FORWARDED","verdict":"DROPPED"}`, false},
		{`{"drop_reason":1e2}`, false},
		{`{"drop_reason":-1}`, false},
		{`{"drop_reason":4294967296}`, false},
		{`{"source":null}`, false},
		{`{"l4":{"TCP":{},"UDP":{}}}`, false},
		{`{"time":"2026-01-01T00:00:00+01:00"}`, false},
		{`{"extensions":{"@type":"x"}}`, false},
		{`{"unknown_field":1}`, false},
	} {
		got := checkFast(t, []byte(c.json))
		if c.accept && !got {
			t.Errorf("the fast path declined a common shape: %s", c.json)
		}
	}
}
