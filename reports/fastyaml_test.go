package reports

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/internal/flowgen"
)

// yamlCases are documents whose rendering is easy to get wrong: values
// YAML would misread, escapes, Unicode, empty collections, long strings
// that yaml.v2 folds, strings over several lines, and what fastYAML
// hands to JSONToYAML (other numbers, duplicate keys, several values).
var yamlCases = []string{
	`{}`, `[]`, `null`, `"x"`, `80`,
	`{"a":{"b":[{"c":"80"},{"d":80},{"e":true},{"f":null},{"g":[]},{"h":{}}]}}`,
	`{"labels":{"yes":"no","on":"off","y":"~","n":"null","x":"1e3","z":"0x1F","o":"0o17","t":"2026-12-03","v":"1.5"}}`,
	`{"k":": [not yaml] #","l":"- a","m":"*alias","n":"&anchor","o":"!tag","p":"%dir","q":"@x","r":"` + "`x" + `","s":"'q'","t":"\"dq\"","u":"a: b","v":"a #b","w":" lead","x":"trail ","y":"","z":"?"}`,
	`{"path":"/api/v1/users/[0-9]+","method":"GET|POST","re":"^.*\\.example\\.com$","u":"caf\u00e9 \u2603 \ud83d\ude00","ctl":"a\u0001b\tc","nl":"line one\nline two\n","crlf":"a\r\nb"}`,
	`{"long":"` + string(bytes.Repeat([]byte("word "), 40)) + `","deep":{"a":{"b":{"c":{"d":"` + string(bytes.Repeat([]byte("x y "), 30)) + `"}}}}}`,
	`{"numbers":[0,-1,9223372036854775807,-9223372036854775808]}`,
	`{"float":1.5}`, `{"exp":1e3}`, `{"big":18446744073709551616}`, `{"neg0":-0}`,
	`{"dup":1,"dup":2}`, `{"a":{"x":1,"x":1}}`, `{} {}`, `{"a":1}x`, `{"a":"\ud800"}`,
	`{"u":"café ☃ 😀 \u00e9 \u003c\u003e\u0026 \u2028"}`,
	`{"keys":{"80":"a","8080":"b","9":"c","a10":"d","a9":"e","B":"f","b":"g","":"h"}}`,
}

// TestFastYAML: fastYAML renders every policy ppc writes for the real
// samples and a generated capture, and every case above it accepts,
// exactly as JSONToYAML does, and declines what it cannot vouch for.
func TestFastYAML(t *testing.T) {
	var inputs [][]byte
	for _, c := range yamlCases {
		inputs = append(inputs, []byte(c))
	}
	for _, d := range compiledDocs(t) {
		inputs = append(inputs, d.JSON)
	}
	fast := 0
	for _, j := range inputs {
		want, werr := yaml.JSONToYAML(j)
		got, ok := fastYAML(j)
		if !ok {
			continue
		}
		fast++
		if !wellOrdered(j) {
			t.Errorf("%s: keys yaml.v2 cannot order", j)
			continue
		}
		if werr != nil || !bytes.Equal(got, want) {
			t.Errorf("%s:\nfast:\n%s\nJSONToYAML (%v):\n%s", j, got, werr, want)
		}
	}
	if fast < len(inputs)-12 {
		t.Errorf("fastYAML rendered %d of %d documents", fast, len(inputs))
	}
	for _, c := range []string{`{"float":1.5}`, `{"exp":1e3}`, `{"big":18446744073709551616}`, `{"neg0":-0}`, `{"dup":1,"dup":2}`, `{"a":{"x":1,"x":1}}`, `{} {}`, `{"a":1}x`, `{"a":"\ud800"}`} {
		if _, ok := fastYAML([]byte(c)); ok {
			t.Errorf("fastYAML accepted %s", c)
		}
	}
}

// compiledDocs are the policies ppc writes for every real sample and a
// generated capture.
func compiledDocs(t testing.TB) []Doc {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "flows", "*.json*"))
	gen := filepath.Join(t.TempDir(), "flowgen.json")
	if err := flowgen.WriteFile(gen, flowgen.Config{Flows: 4000, Workloads: 40, Namespaces: 8, Peers: 12, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	var docs []Doc
	for _, f := range append(files, gen) {
		res, err := compiler.Compile(context.Background(), []string{f}, compiler.Options{NoReplay: true, NoAnomalies: true, Agent: agent.Defaults(), InferCluster: true})
		if err != nil {
			t.Fatal(f, err)
		}
		docs = append(docs, res.Docs...)
	}
	if len(docs) < 20 {
		t.Fatalf("%d documents", len(docs))
	}
	return docs
}

// wellOrdered reports whether yamlKeyLess orders the keys of every object
// of j totally (then yaml.v2 writes them in one order whatever Go's map
// order): no two keys each less than the other or neither, and no cycle.
func wellOrdered(j []byte) bool {
	var v any
	if json.Unmarshal(j, &v) != nil {
		return false
	}
	var walk func(v any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case map[string]any:
			var ks []string
			for k, e := range x {
				if !walk(e) {
					return false
				}
				ks = append(ks, k)
			}
			for _, a := range ks {
				for _, b := range ks {
					if a != b && yamlKeyLess(a, b) == yamlKeyLess(b, a) {
						return false
					}
					for _, c := range ks {
						if yamlKeyLess(a, b) && yamlKeyLess(b, c) && !yamlKeyLess(a, c) {
							return false
						}
					}
				}
			}
		case []any:
			for _, e := range x {
				if !walk(e) {
					return false
				}
			}
		}
		return true
	}
	return walk(v)
}

// TestYAMLKeyOrderIsDeterministic: keys yaml.v2 cannot order (its order is
// not transitive for them) still come out in one order.
func TestYAMLKeyOrderIsDeterministic(t *testing.T) {
	j := []byte(`{"8A":"0","8110":"1","087":"9","29":"0","X":"2","2":"1"}`)
	if wellOrdered(j) {
		t.Fatal("the case no longer shows yaml.v2's intransitive order")
	}
	first, ok := fastYAML(j)
	if !ok {
		t.Fatal("declined")
	}
	for range 50 {
		if b, _ := fastYAML(j); !bytes.Equal(b, first) {
			t.Fatalf("renderings differ:\n%s\n%s", first, b)
		}
	}
}

func FuzzFastYAML(f *testing.F) {
	for _, c := range yamlCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, j []byte) {
		if len(j) > 1<<16 {
			return
		}
		got, ok := fastYAML(j)
		if !ok {
			return
		}
		var v any
		if json.Unmarshal(j, &v) != nil {
			t.Fatalf("fastYAML accepted invalid JSON %q", j)
		}
		if again, _ := fastYAML(j); !bytes.Equal(again, got) {
			t.Fatalf("%q: two renderings differ:\n%s\n%s", j, got, again)
		}
		if !wellOrdered(j) {
			return // yaml.v2's own order depends on Go's map order
		}
		want, err := yaml.JSONToYAML(j)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%q:\nfast:\n%s\nJSONToYAML (%v):\n%s", j, got, err, want)
		}
	})
}

// BenchmarkYAML renders the policies of the samples and a generated
// capture: fastYAML against JSONToYAML.
func BenchmarkYAML(b *testing.B) {
	docs := compiledDocs(b)
	n := 0
	for _, d := range docs {
		n += len(d.JSON)
	}
	for _, c := range []struct {
		name string
		f    func([]byte) ([]byte, error)
	}{
		{"JSONToYAML", yaml.JSONToYAML},
		{"fast", func(j []byte) ([]byte, error) { b, _ := fastYAML(j); return b, nil }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				for _, d := range docs {
					if _, err := c.f(d.JSON); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
