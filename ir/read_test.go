package ir

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestReadStreamsAsDecodeWould holds the streaming reader to what
// decoding the whole snapshot at once (a json.Decoder that disallows
// unknown fields, into the wire form) accepts and builds: the same graph
// or an error for each input.
func TestReadStreamsAsDecodeWould(t *testing.T) {
	webID, apiID := WorkloadID("shop", "web", []string{"k8s:app=web"}), WorkloadID("shop", "api", []string{"k8s:app=api"})
	web := `{"id":"` + webID + `","kind":"workload","namespace":"shop","name":"web","labels":["k8s:app=web"]}`
	api := `{"id":"` + apiID + `","kind":"workload","namespace":"shop","name":"api","labels":["k8s:app=api"]}`
	edge := `{"id":"` + EdgeID(webID, apiID, "TCP", 8080) + `","src":"` + webID + `","dst":"` + apiID + `","protocol":"TCP","port":8080,"verdicts":{"FORWARDED":3},"samples":[{"file":"f.json","line":2}]}`
	head := `"ir_version":2,"stats":{"records":3,"flows":3}`
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"whole", `{` + head + `,"sources":["f.json"],"nodes":[` + web + `,` + api + `],"edges":[` + edge + `],"dns":{"203.0.113.7":["a.example"]}}`, true},
		{"fields in another order", `{"edges":[` + edge + `],"nodes":[` + web + `,` + api + `],` + head + `}`, true},
		{"null lists", `{` + head + `,"nodes":null,"edges":null,"denied":null}`, true},
		{"empty lists", `{` + head + `,"nodes":[],"edges":[]}`, true},
		{"a list given twice keeps the last", `{` + head + `,"nodes":[` + web + `],"nodes":[` + web + `,` + api + `],"edges":[` + edge + `]}`, true},
		{"trailing data after the value", `{` + head + `,"nodes":[],"edges":[]} garbage`, true},
		{"unknown top-level field", `{` + head + `,"bogus":1}`, false},
		{"unknown edge field", `{` + head + `,"nodes":[` + web + `,` + api + `],"edges":[` + strings.Replace(edge, `"port"`, `"bogus":1,"port"`, 1) + `]}`, false},
		{"null edge", `{` + head + `,"nodes":[],"edges":[null]}`, false},
		{"edges not a list", `{` + head + `,"edges":5}`, false},
		{"edges an object", `{` + head + `,"edges":{}}`, false},
		{"edge to a missing node", `{` + head + `,"nodes":[` + web + `],"edges":[` + edge + `]}`, false},
		{"duplicate edge", `{` + head + `,"nodes":[` + web + `,` + api + `],"edges":[` + edge + `,` + edge + `]}`, false},
		{"truncated", `{` + head + `,"nodes":[` + web, false},
		{"not an object", `[1]`, false},
		{"wrong version", `{"ir_version":7}`, false},
		{"empty", ``, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := New()
			err := got.Read(strings.NewReader(tt.in))
			want, werr := decodeWhole([]byte(tt.in))
			if (err == nil) != tt.ok || (werr == nil) != tt.ok {
				t.Fatalf("Read: %v; decoding whole: %v; want ok=%v", err, werr, tt.ok)
			}
			if err != nil {
				return
			}
			var a, b bytes.Buffer
			if err := got.Write(&a); err != nil {
				t.Fatal(err)
			}
			if err := want.Write(&b); err != nil {
				t.Fatal(err)
			}
			if a.String() != b.String() {
				t.Errorf("Read built\n%s\ndecoding whole built\n%s", a.String(), b.String())
			}
		})
	}
}

// decodeWhole is the reader before streaming: the whole value decoded
// into the wire form, then the graph built from it as Read builds it.
func decodeWhole(b []byte) (*Graph, error) {
	var w wire
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(w); err != nil {
		return nil, err
	}
	g := New()
	return g, g.Read(&buf)
}
