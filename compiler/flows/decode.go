package flows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	"github.com/cilium/cilium/api/v1/observer"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/policypilot/ppc/ir"
)

// This file holds the decoder of one value: the fast path when it can
// vouch for the value, else protojson (strict, then lenient with a
// warning per unknown field), and the envelope forms Hubble writes.

// decoder turns raw values into records.
type decoder struct {
	file     string
	warned   map[string]bool
	warnings ir.Diagnostics
	slow     bool
	fast     fastDecoder
}

func (d *decoder) takeWarnings() ir.Diagnostics {
	w := d.warnings
	d.warnings = nil
	return w
}

func hasKey(keys []string, names ...string) bool {
	for _, k := range keys {
		for _, n := range names {
			if k == n {
				return true
			}
		}
	}
	return false
}

var (
	lostKeys   = []string{"lost_events", "lostEvents"}
	statusKeys = []string{"node_status", "nodeStatus"}
	agentKeys  = []string{"agent_event", "agentEvent"}
	debugKeys  = []string{"debug_event", "debugEvent"}
	bareKeys   = []string{"verdict", "IP", "l4", "l7", "source", "destination", "Type", "event_type", "eventType", "traffic_direction", "trafficDirection"}
)

// decode turns a value into records; tryFast tries the fast path first
// (unless the decoder is slow).
func (d *decoder) decode(v *rawValue, tryFast bool) ([]Record, error) {
	pos := ir.Pos{File: d.file, Line: v.line}
	if tryFast && !d.slow {
		// The fast path tells the shapes apart as the cases below do.
		if f, _, ok := d.fast.decode(v.data); ok {
			return []Record{{Pos: pos, Kind: KindFlow, Flow: f}}, nil
		}
	}
	switch {
	case hasKey(v.keys, "flow"):
		var ev observer.ExportEvent
		if err := d.unmarshal(v, &ev); err != nil {
			return nil, err
		}
		f := ev.GetFlow()
		if f == nil {
			return nil, errors.New(`"flow" is null`)
		}
		return []Record{{Pos: pos, Kind: KindFlow, Flow: f}}, nil
	case hasKey(v.keys, lostKeys...), hasKey(v.keys, "num_events_lost", "numEventsLost"):
		return []Record{{Pos: pos, Kind: KindLostEvents}}, nil
	case hasKey(v.keys, statusKeys...):
		return []Record{{Pos: pos, Kind: KindNodeStatus}}, nil
	case hasKey(v.keys, agentKeys...):
		return []Record{{Pos: pos, Kind: KindAgentEvent}}, nil
	case hasKey(v.keys, debugKeys...):
		return []Record{{Pos: pos, Kind: KindDebugEvent}}, nil
	case hasKey(v.keys, "log") && hasKey(v.keys, "stream"):
		return d.decodeEnvelope(v)
	case hasKey(v.keys, bareKeys...):
		f := new(flowpb.Flow)
		if err := d.unmarshal(v, f); err != nil {
			return nil, err
		}
		return []Record{{Pos: pos, Kind: KindFlow, Flow: f}}, nil
	}
	if len(v.keys) == 0 {
		return nil, errors.New("empty JSON object is not a Hubble flow or event")
	}
	return nil, fmt.Errorf("not a Hubble flow or event (top-level keys: %s)", strings.Join(v.keys, ", "))
}

// decodeEnvelope unwraps a Docker json-file log line {"log":"…","stream":…}.
func (d *decoder) decodeEnvelope(v *rawValue) ([]Record, error) {
	var env struct {
		Log string `json:"log"`
	}
	if err := json.Unmarshal(v.data, &env); err != nil {
		return nil, fmt.Errorf("log envelope: %v", err)
	}
	sc := newScanner(strings.NewReader(env.Log), 0)
	var out []Record
	for {
		inner, err := sc.next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("log envelope: %v", err)
		}
		inner.line = v.line
		recs, err := d.decode(inner, true)
		if err != nil {
			return nil, fmt.Errorf("log envelope: %v", err)
		}
		out = append(out, recs...)
	}
}

var strictOpts = protojson.UnmarshalOptions{}
var lenientOpts = protojson.UnmarshalOptions{DiscardUnknown: true}

// unmarshal decodes with protojson. Unknown fields are discarded, with one
// warning per file and field, as `hubble observe --input-file` does (which
// retries with DiscardUnknown) but without hiding it. The flow's
// "extensions" (an Any whose type is rarely resolvable) is removed first.
func (d *decoder) unmarshal(v *rawValue, m proto.Message) error {
	data := v.data
	if bytes.Contains(data, []byte(`"extensions"`)) {
		var err error
		if data, err = dropExtensions(data); err != nil {
			return err
		}
	}
	err := strictOpts.Unmarshal(data, m)
	if err == nil {
		return nil
	}
	field, unknown := unknownField(err)
	if !unknown {
		return cleanProtoErr(err, v.line)
	}
	proto.Reset(m)
	if err := lenientOpts.Unmarshal(data, m); err != nil {
		return cleanProtoErr(err, v.line)
	}
	if !d.warned[field] {
		d.warned[field] = true
		w := ir.Warnf("ppc_ingest_unknown_field", ir.Pos{File: d.file, Line: v.line},
			"unknown field %q ignored (reported once per file); is this Hubble output?", field)
		w.Stage = "learn"
		d.warnings = append(d.warnings, w)
	}
	return nil
}
