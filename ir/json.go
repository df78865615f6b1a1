package ir

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// wire is the JSON form of a Graph: lists sorted by ID so that the same
// graph always encodes to the same bytes.
type wire struct {
	Version   int          `json:"ir_version"`
	Sources   []string     `json:"sources,omitempty"`
	Stats     Stats        `json:"stats"`
	Nodes     []*Node      `json:"nodes"`
	Edges     []*Edge      `json:"edges"`
	Undecided []*Undecided `json:"undecided,omitempty"`
	Denied    []*Edge      `json:"denied,omitempty"`
	// DeniedNodes are Graph.DeniedNodes.
	DeniedNodes []*Node             `json:"denied_nodes,omitempty"`
	DNS         map[string][]string `json:"dns,omitempty"`
}

// MarshalJSON encodes the graph in its versioned, deterministic JSON form.
func (g *Graph) MarshalJSON() ([]byte, error) {
	return json.Marshal(wire{
		Version: Version, Sources: g.Sources, Stats: g.Stats,
		Nodes: g.SortedNodes(), Edges: g.SortedEdges(), Undecided: g.SortedUndecided(), Denied: g.SortedDenied(), DeniedNodes: g.SortedDeniedNodes(), DNS: g.DNS,
	})
}

// UnmarshalJSON decodes a graph and checks its version and invariants.
func (g *Graph) UnmarshalJSON(b []byte) error {
	return g.Read(bytes.NewReader(b))
}

// Read decodes a graph from r (its first JSON value) and checks its
// version and invariants (UnmarshalJSON is Read of the bytes). It is streamed
// one node and edge at a time: memory holds the graph, not the file (a
// 500k-connection snapshot is 260 MB of JSON, which reading whole and
// decoding held twice beside the graph).
func (g *Graph) Read(r io.Reader) error {
	w, err := readWire(r)
	if err != nil {
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
	if err := readNodes("nodes", w.Nodes, g, g.Nodes); err != nil {
		return err
	}
	if len(w.DeniedNodes) > 0 {
		g.DeniedNodes = map[string]*Node{}
		if err := readNodes("denied_nodes", w.DeniedNodes, g, g.DeniedNodes); err != nil {
			return err
		}
	}
	if err := readEdges("edges", w.Edges, g, g.Edges); err != nil {
		return err
	}
	if err := readEdges("denied", w.Denied, g, g.Denied); err != nil {
		return err
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

// readWire decodes the first JSON value of r as a wire, as a json.Decoder
// that disallows unknown fields would, but token by token: the lists are
// decoded an element at a time, so the decoder's buffer holds one node or
// edge, never the whole snapshot. A field given twice keeps its last
// value, as encoding/json does; the top-level keys must be spelled as ppc
// writes them (encoding/json would also take "Edges" or "EDGES").
func readWire(r io.Reader) (*wire, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	w := &wire{}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("json: cannot unmarshal %s into Go value of type ir.wire", tokenKind(tok))
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		switch key {
		case "ir_version":
			err = dec.Decode(&w.Version)
		case "sources":
			err = dec.Decode(&w.Sources)
		case "stats":
			err = dec.Decode(&w.Stats)
		case "nodes":
			w.Nodes, err = readList[Node](dec, key)
		case "edges":
			w.Edges, err = readList[Edge](dec, key)
		case "undecided":
			err = dec.Decode(&w.Undecided)
		case "denied":
			w.Denied, err = readList[Edge](dec, key)
		case "denied_nodes":
			w.DeniedNodes, err = readList[Node](dec, key)
		case "dns":
			err = dec.Decode(&w.DNS)
		default:
			return nil, fmt.Errorf("json: unknown field %q", key)
		}
		if err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	return w, nil
}

// readList decodes a JSON array (or null) of T one element at a time.
func readList[T any](dec *json.Decoder, field string) ([]*T, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok == nil {
		return nil, nil
	}
	if tok != json.Delim('[') {
		return nil, fmt.Errorf("json: cannot unmarshal %s into Go struct field wire.%s of type []*%T", tokenKind(tok), field, *new(T))
	}
	var out []*T
	for dec.More() {
		var x *T
		if err := dec.Decode(&x); err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	_, err = dec.Token() // the closing bracket
	return out, err
}

// tokenKind names a JSON token's kind as encoding/json's type errors do.
func tokenKind(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		if tok == json.Delim('[') {
			return "array"
		}
		return "object"
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case bool:
		return "bool"
	}
	return "null"
}

func readNodes(field string, ns []*Node, g *Graph, into map[string]*Node) error {
	for i, n := range ns {
		if n == nil || n.ID == "" {
			return fmt.Errorf("%s[%d]: missing id", field, i)
		}
		if g.Node(n.ID) != nil {
			return fmt.Errorf("%s[%d]: duplicate node %s", field, i, n.ID)
		}
		into[n.ID] = n
	}
	return nil
}

// readEdges adds es to into. An edge's ends and protocol become the
// strings its nodes' IDs and the protocol names already are (the decoder
// makes two strings of its own per edge, which a large snapshot holds
// hundreds of thousands of).
func readEdges(field string, es []*Edge, g *Graph, into map[string]*Edge) error {
	for i, e := range es {
		if e == nil || e.ID == "" {
			return fmt.Errorf("%s[%d]: missing id", field, i)
		}
		if _, dup := into[e.ID]; dup {
			return fmt.Errorf("%s[%d]: duplicate edge %s", field, i, e.ID)
		}
		if e.Verdicts == nil {
			e.Verdicts = Counts{}
		}
		e.Src, e.Dst = g.nodeID(e.Src), g.nodeID(e.Dst)
		e.Protocol = internKey(e.Protocol)
		into[e.ID] = e
	}
	return nil
}

// Write encodes g as indented JSON followed by a newline: the bytes of
// json.MarshalIndent(g, "", " "), streamed one node and edge at a time,
// so the whole document is never held in memory twice.
func (g *Graph) Write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	var scratch, ind bytes.Buffer
	// value writes v indented for the given depth (its first line is
	// already positioned by the caller).
	value := func(v any, depth int) error {
		scratch.Reset()
		enc := json.NewEncoder(&scratch)
		enc.SetEscapeHTML(true)
		if err := enc.Encode(v); err != nil {
			return err
		}
		ind.Reset()
		if err := json.Indent(&ind, bytes.TrimSuffix(scratch.Bytes(), []byte("\n")), strings.Repeat(" ", depth), " "); err != nil {
			return err
		}
		_, err := bw.Write(ind.Bytes())
		return err
	}
	first := true
	field := func(name string) {
		if !first {
			bw.WriteString(",")
		}
		first = false
		fmt.Fprintf(bw, "\n %q: ", name)
	}
	bw.WriteString("{")
	field("ir_version")
	fmt.Fprint(bw, Version)
	if len(g.Sources) > 0 {
		field("sources")
		if err := value(g.Sources, 1); err != nil {
			return err
		}
	}
	field("stats")
	if err := value(g.Stats, 1); err != nil {
		return err
	}
	list := func(name string, all any, n int, at func(int) any) error {
		field(name)
		if n == 0 {
			return value(all, 1) // null or []
		}
		bw.WriteString("[")
		for i := 0; i < n; i++ {
			if i > 0 {
				bw.WriteString(",")
			}
			bw.WriteString("\n  ")
			if err := value(at(i), 2); err != nil {
				return err
			}
		}
		bw.WriteString("\n ]")
		return nil
	}
	nodes, edges := g.SortedNodes(), g.SortedEdges()
	if err := list("nodes", nodes, len(nodes), func(i int) any { return nodes[i] }); err != nil {
		return err
	}
	if err := list("edges", edges, len(edges), func(i int) any { return edges[i] }); err != nil {
		return err
	}
	if und := g.SortedUndecided(); len(und) > 0 {
		if err := list("undecided", und, len(und), func(i int) any { return und[i] }); err != nil {
			return err
		}
	}
	if den := g.SortedDenied(); len(den) > 0 {
		if err := list("denied", den, len(den), func(i int) any { return den[i] }); err != nil {
			return err
		}
	}
	if dn := g.SortedDeniedNodes(); len(dn) > 0 {
		if err := list("denied_nodes", dn, len(dn), func(i int) any { return dn[i] }); err != nil {
			return err
		}
	}
	if len(g.DNS) > 0 {
		field("dns")
		if err := value(g.DNS, 1); err != nil {
			return err
		}
	}
	bw.WriteString("\n}\n")
	return bw.Flush()
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

// nodeID is the ID string of the node (learned or denied-only) with ID
// id, or id.
func (g *Graph) nodeID(id string) string {
	if n := g.Nodes[id]; n != nil {
		return n.ID
	}
	if n := g.DeniedNodes[id]; n != nil {
		return n.ID
	}
	return id
}
