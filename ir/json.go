package ir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// wire is the JSON form of a Graph: lists sorted by ID so that the same
// graph always encodes to the same bytes.
type wire struct {
	Version   int                 `json:"ir_version"`
	Sources   []string            `json:"sources,omitempty"`
	Stats     Stats               `json:"stats"`
	Nodes     []*Node             `json:"nodes"`
	Edges     []*Edge             `json:"edges"`
	Undecided []*Undecided        `json:"undecided,omitempty"`
	DNS       map[string][]string `json:"dns,omitempty"`
}

// MarshalJSON encodes the graph in its versioned, deterministic JSON form.
func (g *Graph) MarshalJSON() ([]byte, error) {
	return json.Marshal(wire{
		Version: Version, Sources: g.Sources, Stats: g.Stats,
		Nodes: g.SortedNodes(), Edges: g.SortedEdges(), Undecided: g.SortedUndecided(), DNS: g.DNS,
	})
}

// UnmarshalJSON decodes a graph and checks its version and invariants.
func (g *Graph) UnmarshalJSON(b []byte) error {
	var w wire
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return err
	}
	if w.Version == 1 {
		return fmt.Errorf("unsupported ir_version 1 (this ppc reads version %d): version 1 snapshots counted replies and connections dropped by policy elsewhere as connections; learn the flows again", Version)
	}
	if w.Version != Version {
		return fmt.Errorf("unsupported ir_version %d (this ppc reads version %d)", w.Version, Version)
	}
	*g = *New()
	g.Sources, g.Stats = w.Sources, w.Stats
	for i, n := range w.Nodes {
		if n == nil || n.ID == "" {
			return fmt.Errorf("nodes[%d]: missing id", i)
		}
		if _, dup := g.Nodes[n.ID]; dup {
			return fmt.Errorf("nodes[%d]: duplicate node %s", i, n.ID)
		}
		g.Nodes[n.ID] = n
	}
	for i, e := range w.Edges {
		if e == nil || e.ID == "" {
			return fmt.Errorf("edges[%d]: missing id", i)
		}
		if _, dup := g.Edges[e.ID]; dup {
			return fmt.Errorf("edges[%d]: duplicate edge %s", i, e.ID)
		}
		if e.Verdicts == nil {
			e.Verdicts = map[string]int64{}
		}
		g.Edges[e.ID] = e
	}
	for i, u := range w.Undecided {
		if u == nil || u.ID == "" {
			return fmt.Errorf("undecided[%d]: missing id", i)
		}
		if _, dup := g.Undecided[u.ID]; dup {
			return fmt.Errorf("undecided[%d]: duplicate group %s", i, u.ID)
		}
		if u.Verdicts == nil {
			u.Verdicts = map[string]int64{}
		}
		g.Undecided[u.ID] = u
	}
	for ip, names := range w.DNS {
		g.DNS[ip] = names
	}
	if ds := Verify(g); len(ds) > 0 {
		return fmt.Errorf("invalid IR: %w", ds)
	}
	return nil
}

// Write encodes g as indented JSON followed by a newline.
func (g *Graph) Write(w io.Writer) error {
	b, err := json.MarshalIndent(g, "", " ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// IsIR reports whether b looks like an IR snapshot (a JSON object whose
// first key is "ir_version") rather than Hubble flows.
func IsIR(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	return bytes.HasPrefix(bytes.TrimLeft(b[1:], " \t\r\n"), []byte(`"ir_version"`))
}
