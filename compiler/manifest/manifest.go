// Package manifest reads Kubernetes manifests the way kubectl does: files,
// directories (recursively, *.yaml, *.yml and *.json) and standard input;
// multi-document YAML; JSON; and List objects, whose items are expanded.
// Each object keeps its source position (file, first line of its
// document, document index) so that every later diagnostic can point at
// it. Syntax errors are reported with the file and line, never skipped
// silently.
package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/policypilot/ppc/internal/walk"
	"github.com/policypilot/ppc/ir"
)

// Object is one Kubernetes object read from a manifest.
type Object struct {
	Pos ir.Pos // file and first line of its document
	// Doc is the 1-based index of its document in the file; Item the
	// 1-based index inside a List (0 when it is not a list item).
	Doc, Item int
	// APIVersion, Kind, Namespace and Name are read from the object.
	APIVersion, Kind, Namespace, Name string
	// JSON is the object as JSON.
	JSON []byte
	// src is its document's text, which starts at line start of the file.
	src   []byte
	start int
}

// Where formats the position as "file:line (document N[, item M])".
func (o Object) Where() string {
	s := fmt.Sprintf("%s (document %d", o.Pos, o.Doc)
	if o.Item > 0 {
		s += fmt.Sprintf(", item %d", o.Item)
	}
	return s + ")"
}

// ID is "Kind namespace/name" (or "Kind name" without a namespace).
func (o Object) ID() string {
	if o.Namespace != "" {
		return o.Kind + " " + o.Namespace + "/" + o.Name
	}
	return o.Kind + " " + o.Name
}

// Line returns the line of the file where the value at a data path
// ("spec.egress[0].toPorts") starts, or of its closest ancestor that
// exists; the object's first line when the path is empty or unknown.
func (o Object) Line(path string) int {
	if len(o.src) == 0 {
		return o.Pos.Line
	}
	var root yaml.Node
	if err := yaml.Unmarshal(o.src, &root); err != nil || len(root.Content) == 0 {
		return o.Pos.Line
	}
	n := root.Content[0]
	if o.Item > 0 {
		items, _ := child(n, "items")
		if items == nil || items.Kind != yaml.SequenceNode || o.Item > len(items.Content) {
			return o.Pos.Line
		}
		n = items.Content[o.Item-1]
	}
	line := n.Line
	for _, seg := range pathSegments(path) {
		next, at := child(n, seg)
		if next == nil {
			break
		}
		n, line = next, at
	}
	return line + o.start - 1
}

// child steps from a mapping by key (its line is the key's) or from a
// sequence by "[i]".
func child(n *yaml.Node, seg string) (*yaml.Node, int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == seg {
				return n.Content[i+1], n.Content[i].Line
			}
		}
	case yaml.SequenceNode:
		if strings.HasPrefix(seg, "[") && strings.HasSuffix(seg, "]") {
			if i, err := strconv.Atoi(seg[1 : len(seg)-1]); err == nil && i >= 0 && i < len(n.Content) {
				return n.Content[i], n.Content[i].Line
			}
		}
	}
	return nil, 0
}

// pathSegments splits "spec.egress[0].toPorts" into spec, egress, [0],
// toPorts.
func pathSegments(p string) []string {
	var out []string
	for _, part := range strings.Split(p, ".") {
		for part != "" {
			i := strings.IndexByte(part, '[')
			switch {
			case i < 0:
				out = append(out, part)
				part = ""
			case i > 0:
				out = append(out, part[:i])
				part = part[i:]
			default:
				j := strings.IndexByte(part, ']')
				if j < 0 {
					out = append(out, part)
					part = ""
					continue
				}
				out = append(out, part[:j+1])
				part = part[j+1:]
			}
		}
	}
	return out
}

// SetNamespace sets metadata.namespace in the object and its JSON.
func (o *Object) SetNamespace(ns string) error {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(o.JSON))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return err
	}
	md, _ := m["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
		m["metadata"] = md
	}
	md["namespace"] = ns
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	o.JSON, o.Namespace = b, ns
	return nil
}

// Input is one named source. Name "-" is standard input.
type Input struct {
	Name string
	R    io.Reader // nil: read Name from disk
}

// Expand resolves arguments into inputs: "-" is stdin; a directory stands
// for every *.yaml, *.yml and *.json file below it (recursively, sorted,
// hidden files and directories skipped); anything else is a file. A
// directory without manifests is an error.
func Expand(args []string) ([]Input, error) {
	var ins []Input
	for _, a := range args {
		if a == "-" {
			ins = append(ins, Input{Name: "-"})
			continue
		}
		fi, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			ins = append(ins, Input{Name: a})
			continue
		}
		// Links are followed (a ConfigMap mounted as a volume is a
		// directory of links); hidden entries are skipped.
		names, err := walk.Files(a, isManifestName)
		if err != nil {
			return nil, err
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("directory %s holds no .yaml, .yml or .json files", a)
		}
		for _, n := range names {
			ins = append(ins, Input{Name: n})
		}
	}
	return ins, nil
}

func isManifestName(n string) bool {
	switch strings.ToLower(filepath.Ext(n)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// ReadPaths expands paths (Expand) and reads them (Read): the objects,
// the documents that could not be read, and the number of files.
func ReadPaths(paths []string, stdin io.Reader) ([]Object, ir.Diagnostics, int, error) {
	ins, err := Expand(paths)
	if err != nil {
		return nil, nil, 0, err
	}
	objs, bad, err := Read(ins, stdin)
	return objs, bad, len(ins), err
}

// Read reads every input and returns its objects in order. A document
// that is not valid YAML or JSON, or is not an object with a kind, is an
// error diagnostic naming the file and line; reading goes on with the
// next document. The error is non-nil only when an input cannot be read.
func Read(ins []Input, stdin io.Reader) ([]Object, ir.Diagnostics, error) {
	var objs []Object
	var ds ir.Diagnostics
	for _, in := range ins {
		data, err := readAll(in, stdin)
		if err != nil {
			return nil, ds, err
		}
		name := in.Name
		o, d := Parse(name, data)
		objs = append(objs, o...)
		ds = append(ds, d...)
	}
	return objs, ds, nil
}

// MaxFileSize bounds one manifest file: a larger one (or an endless one,
// such as /dev/zero) is an error, not a buffer that grows until memory runs
// out. The API server itself refuses objects over 3 MiB.
const MaxFileSize = 64 << 20

func readAll(in Input, stdin io.Reader) ([]byte, error) {
	r, name := in.R, in.Name
	switch {
	case r != nil:
	case name == "-":
		if stdin == nil {
			return nil, fmt.Errorf("-: no standard input")
		}
		r = stdin
	default:
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d MiB: not a policy manifest (the API server refuses objects over 3 MiB)", name, MaxFileSize>>20)
	}
	return data, nil
}

// document is one YAML document of a file.
type document struct {
	line int // first line, 1-based
	text []byte
}

// split cuts a YAML stream at its document markers ("---" starts a
// document, "..." ends one), keeping each document's first line.
func split(data []byte) []document {
	var docs []document
	cur := document{line: 1}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), len(data)+1)
	line := 0
	var buf bytes.Buffer
	flush := func(next int) {
		cur.text = append([]byte(nil), buf.Bytes()...)
		docs = append(docs, cur)
		buf.Reset()
		cur = document{line: next}
	}
	for sc.Scan() {
		line++
		t := sc.Bytes()
		if isMarker(t, "---") || isMarker(t, "...") {
			flush(line + 1)
			if isMarker(t, "---") {
				// "--- {a: 1}": content may follow the marker.
				if rest := bytes.TrimSpace(t[3:]); len(rest) > 0 && rest[0] != '#' {
					cur.line = line
					buf.Write(rest)
					buf.WriteByte('\n')
				}
			}
			continue
		}
		buf.Write(t)
		buf.WriteByte('\n')
	}
	flush(0)
	return docs
}

func isMarker(line []byte, m string) bool {
	if !bytes.HasPrefix(line, []byte(m)) {
		return false
	}
	rest := line[len(m):]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\r'
}

// blank reports whether a document holds only comments and whitespace.
func blank(b []byte) bool {
	for _, l := range bytes.Split(b, []byte("\n")) {
		l = bytes.TrimSpace(l)
		if len(l) > 0 && l[0] != '#' {
			return false
		}
	}
	return true
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// Parse reads the objects of one file's contents. name is used in
// positions.
func Parse(name string, data []byte) ([]Object, ir.Diagnostics) {
	var objs []Object
	var ds ir.Diagnostics
	docIdx := 0
	for _, d := range split(data) {
		if blank(d.text) {
			continue
		}
		docIdx++
		pos := ir.Pos{File: name, Line: firstContentLine(d)}
		if line, ok := templateAction(d); ok {
			// Whether or not it happens to parse as YAML, what the API
			// server would get is what the template renders to.
			diag := docErr(ir.Pos{File: name, Line: line}, docIdx, "a template, not a manifest (a {{ … }} action on line %d): render it first (helm template, or your templating tool) and check what it renders", line)
			diag.Code = CodeTemplate
			ds = append(ds, diag)
			continue
		}
		js, err := sigsyaml.YAMLToJSONStrict(d.text)
		if err != nil {
			// Make the YAML parser's document-relative line absolute.
			msg := yamlLine.ReplaceAllStringFunc(err.Error(), func(s string) string {
				n, _ := strconv.Atoi(s[len("line "):])
				return fmt.Sprintf("line %d", n+d.line-1)
			})
			if m := yamlLine.FindStringSubmatch(msg); m != nil {
				pos.Line, _ = strconv.Atoi(m[1])
			}
			if _, lerr := sigsyaml.YAMLToJSON(d.text); lerr == nil {
				// Valid YAML with a key given twice: which one counts
				// depends on the reader, and the API server's strict
				// field validation (kubectl's default) refuses it.
				if i := strings.LastIndex(msg, "\n"); i >= 0 {
					msg = strings.TrimSpace(msg[i+1:]) // "line 9: key "ingress" already set in map"
				}
				ds = append(ds, docErr(pos, docIdx, "a key given twice: %s (the API server's strict field validation, kubectl's default, refuses the object)", msg))
				continue
			}
			ds = append(ds, docErr(pos, docIdx, "not valid YAML or JSON: %s", msg))
			continue
		}
		var top map[string]any
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.UseNumber()
		if err := dec.Decode(&top); err != nil || top == nil {
			ds = append(ds, docErr(pos, docIdx, "not a Kubernetes object (want a mapping with apiVersion and kind)"))
			continue
		}
		kind, _ := top["kind"].(string)
		if items, ok := top["items"].([]any); ok && strings.HasSuffix(kind, "List") {
			for i, it := range items {
				m, ok := it.(map[string]any)
				if !ok {
					ds = append(ds, docErr(pos, docIdx, "items[%d]: not an object", i))
					continue
				}
				o, err := object(pos, docIdx, i+1, m)
				o.src, o.start = d.text, d.line
				if err != nil {
					ds = append(ds, docErr(pos, docIdx, "items[%d]: %v", i, err))
					continue
				}
				objs = append(objs, o)
			}
			continue
		}
		o, err := object(pos, docIdx, 0, top)
		if err != nil {
			ds = append(ds, docErr(pos, docIdx, "%v", err))
			continue
		}
		o.src, o.start = d.text, d.line
		objs = append(objs, o)
	}
	return objs, ds
}

// CodeTemplate is the code of the diagnostic for a document that is a
// template (Helm's, or another Go-template tool's) rather than a manifest.
const CodeTemplate = "ppc_manifest_template"

// action is a Go template action: "{{", an optional trim marker, then what
// starts a pipeline (a field, a variable, a function, a comment, a
// keyword).
var action = regexp.MustCompile(`\{\{-?\s*(?:[.$(/"]|[a-zA-Z_])`)

// templateAction returns the first line of d, outside comments, that holds
// a template action.
func templateAction(d document) (int, bool) {
	for i, l := range bytes.Split(d.text, []byte("\n")) {
		t := bytes.TrimSpace(l)
		if len(t) > 0 && t[0] == '#' {
			continue
		}
		if action.Match(l) {
			return d.line + i, true
		}
	}
	return 0, false
}

func firstContentLine(d document) int {
	for i, l := range bytes.Split(d.text, []byte("\n")) {
		l = bytes.TrimSpace(l)
		if len(l) > 0 && l[0] != '#' {
			return d.line + i
		}
	}
	return d.line
}

func docErr(pos ir.Pos, doc int, format string, args ...any) *ir.Diagnostic {
	d := ir.Errorf("ppc_manifest_invalid", pos, format, args...)
	d.Object = fmt.Sprintf("document %d", doc)
	return d
}

func object(pos ir.Pos, doc, item int, m map[string]any) (Object, error) {
	o := Object{Pos: pos, Doc: doc, Item: item}
	o.APIVersion, _ = m["apiVersion"].(string)
	o.Kind, _ = m["kind"].(string)
	if o.Kind == "" {
		return o, fmt.Errorf("kind: missing (not a Kubernetes object)")
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		o.Name, _ = md["name"].(string)
		o.Namespace, _ = md["namespace"].(string)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return o, err
	}
	o.JSON = b
	return o, nil
}
