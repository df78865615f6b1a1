package manifest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/policypilot/ppc/ir"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		objs  []string // "Kind ns/name@line#doc.item"
		diags []string // "line: part of the message"
	}{
		{"one document", "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x}\n",
			[]string{"Pod x/a@1#1.0"}, nil},
		{"leading marker, comments and blank documents", "# header\n---\n\n# only a comment\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\n---\nkind: Service\nmetadata: {name: b}\n...\n",
			[]string{"Pod a@6#1.0", "Service b@11#2.0"}, nil},
		{"content after the marker", "--- {kind: Pod, metadata: {name: a}}\n--- # c\nkind: Pod\nmetadata: {name: b}\n",
			[]string{"Pod a@1#1.0", "Pod b@3#2.0"}, nil},
		{"JSON", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"}}`,
			[]string{"Pod a@1#1.0"}, nil},
		{"List items are expanded", "kind: List\nitems:\n- {kind: Pod, metadata: {name: a}}\n- {kind: Pod, metadata: {name: b}}\n- 3\n",
			[]string{"Pod a@1#1.1", "Pod b@1#1.2"}, []string{"1: items[2]: not an object"}},
		{"a YAML error names the absolute line and the next document is still read", "kind: Pod\nmetadata: {name: a}\n---\nkind: Pod\nmetadata:\n  name: [b\n---\nkind: Pod\nmetadata: {name: c}\n",
			[]string{"Pod a@1#1.0", "Pod c@8#3.0"}, []string{"6: line 6"}},
		{"not a mapping", "- a\n- b\n", nil, []string{"1: not a Kubernetes object"}},
		{"no kind", "metadata: {name: a}\n", nil, []string{"1: kind: missing"}},
		{"a key given twice is refused, as the API server's strict validation does", "kind: Pod\nmetadata: {name: a}\n---\nkind: Pod\nmetadata: {name: b}\nspec: {}\nspec: {x: 1}\n",
			[]string{"Pod a@1#1.0"}, []string{`7: a key given twice: line 7: key "spec" already set`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, ds := Parse("m.yaml", []byte(tt.in))
			var got []string
			for _, o := range objs {
				got = append(got, o.ID()+"@"+itoa(o.Pos.Line)+"#"+itoa(o.Doc)+"."+itoa(o.Item))
			}
			if strings.Join(got, "|") != strings.Join(tt.objs, "|") {
				t.Errorf("objects = %q, want %q", got, tt.objs)
			}
			if len(ds) != len(tt.diags) {
				t.Fatalf("diagnostics = %v, want %d", ds, len(tt.diags))
			}
			for i, d := range ds {
				line, part, _ := strings.Cut(tt.diags[i], ": ")
				if itoa(d.Pos.Line) != line || !strings.Contains(d.Msg, part) || d.Pos.File != "m.yaml" {
					t.Errorf("diagnostic %d = %v (line %d), want line %s containing %q", i, d, d.Pos.Line, line, part)
				}
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestSetNamespace(t *testing.T) {
	objs, _ := Parse("m.yaml", []byte("kind: CiliumNetworkPolicy\nmetadata: {name: a}\nspec: {port: 80}\n"))
	o := objs[0]
	if err := o.SetNamespace("shop"); err != nil {
		t.Fatal(err)
	}
	if o.Namespace != "shop" || !strings.Contains(string(o.JSON), `"namespace":"shop"`) || !strings.Contains(string(o.JSON), `"port":80`) {
		t.Errorf("after SetNamespace: %s %s", o.Namespace, o.JSON)
	}
}

func TestExpand(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"b.yaml", "a/c.yml", "a/d.json", "a/notes.txt", ".hidden/e.yaml", "a/.f.yaml"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("kind: Pod\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ins, err := Expand([]string{dir, "-"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range ins {
		r, _ := filepath.Rel(dir, in.Name)
		if in.Name == "-" {
			r = "-"
		}
		got = append(got, filepath.ToSlash(r))
	}
	if want := "a/c.yml a/d.json b.yaml -"; strings.Join(got, " ") != want {
		t.Errorf("Expand = %q, want %q", got, want)
	}
	if _, err := Expand([]string{filepath.Join(dir, "a", "notes.txt")}); err != nil {
		t.Errorf("an explicit file of any name is read: %v", err)
	}
	empty := t.TempDir()
	if _, err := Expand([]string{empty}); err == nil {
		t.Error("a directory without manifests must be an error")
	}
	if _, err := Expand([]string{filepath.Join(dir, "missing")}); err == nil {
		t.Error("a missing path must be an error")
	}
}

// FuzzParse: any input yields objects and diagnostics, never a panic, and
// every object has a kind and valid JSON.
func FuzzParse(f *testing.F) {
	f.Add([]byte("kind: Pod\nmetadata: {name: a}\n---\nkind: List\nitems: [{kind: Pod}]\n"))
	f.Add([]byte("--- {kind: Pod}\n...\n"))
	f.Add([]byte(`{"kind":"CiliumNetworkPolicy","spec":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		objs, _ := Parse("f.yaml", b)
		for _, o := range objs {
			if o.Kind == "" || len(o.JSON) == 0 || o.Pos.Line < 1 {
				t.Fatalf("bad object %+v", o)
			}
		}
	})
}

func TestLine(t *testing.T) {
	src := "# c\n---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: a}\nspec:\n  egress:\n  - toEndpoints: [{}]\n  - toPorts:\n    - ports: [{port: \"80\"}]\n---\nkind: List\nitems:\n- kind: Pod\n  spec:\n    x: 1\n"
	objs, _ := Parse("m.yaml", []byte(src))
	for _, tt := range []struct {
		obj  int
		path string
		line int
	}{
		{0, "", 3}, {0, "spec", 6}, {0, "spec.egress[1].toPorts[0].ports", 10}, {0, "spec.egress[1]", 9},
		{0, "spec.egress[7].toPorts", 7}, {0, "spec.nothing", 6}, {1, "spec.x", 16},
	} {
		if got := objs[tt.obj].Line(tt.path); got != tt.line {
			t.Errorf("object %d Line(%q) = %d, want %d", tt.obj, tt.path, got, tt.line)
		}
	}
}

// TestTemplates: a document with template actions is reported as a
// template at its first action, whether or not it parses as YAML; braces
// in a comment or that start no action are not templates.
func TestTemplates(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		line      int // 0: not a template
	}{
		{"helm action", "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: {{ include \"x\" . }}\n", 4},
		{"quoted, valid YAML", "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: \"{{ .Values.name }}\"\n", 4},
		{"trim marker", "{{- if .Values.enabled }}\napiVersion: v1\n", 1},
		{"template comment", "{{/* a note */}}\napiVersion: v1\nkind: ConfigMap\n", 1},
		{"in a YAML comment", "# rendered from {{ .Values.x }}\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: a, namespace: b}\nspec: {endpointSelector: {}}\n", 0},
		{"braces, no action", "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: a, namespace: b, annotations: {note: \"{{ }}\"}}\nspec: {endpointSelector: {}}\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ds := Parse("p.yaml", []byte(tc.doc))
			var got *ir.Diagnostic
			for _, d := range ds {
				if d.Code == CodeTemplate {
					got = d
				}
			}
			switch {
			case tc.line == 0 && got != nil:
				t.Errorf("reported as a template: %v", got)
			case tc.line > 0 && got == nil:
				t.Errorf("not reported as a template: %v", ds)
			case tc.line > 0 && (got.Pos.Line != tc.line || !strings.Contains(got.Msg, "render it first")):
				t.Errorf("got %v, want line %d", got, tc.line)
			}
		})
	}
}
