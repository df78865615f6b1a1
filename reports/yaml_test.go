package reports

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var docs = []Doc{
	{Namespace: "shop", Name: "api", JSON: []byte(`{"kind":"CiliumNetworkPolicy","metadata":{"name":"api","namespace":"shop","labels":{"x":"yes"}}}`)},
	{Namespace: "shop", Name: "web", JSON: []byte(`{"kind":"CiliumNetworkPolicy","metadata":{"name":"web","namespace":"shop","annotations":{"n":": [not yaml] #"}}}`)},
}

func TestStream(t *testing.T) {
	b, err := Stream(docs)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if strings.Count(s, "---\n") != 1 || !strings.HasPrefix(s, "kind: CiliumNetworkPolicy\n") {
		t.Errorf("stream:\n%s", s)
	}
	// Values YAML would misread ("yes", ": [..] #") stay strings.
	if !strings.Contains(s, `x: "yes"`) || !strings.Contains(s, `"n": ': [not yaml] #'`) {
		t.Errorf("untrusted values not quoted:\n%s", s)
	}
}

func TestWriteDir(t *testing.T) {
	dir := t.TempDir()
	res, err := WriteDir(dir, docs, DirOptions{})
	if err != nil || len(res.Written) != 2 {
		t.Fatalf("WriteDir: %v %v", res, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "shop", "api.yaml"))
	if err != nil || !strings.Contains(string(b), "name: api") {
		t.Fatalf("api.yaml: %q %v", b, err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "shop", ".ppc-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	// An unsafe name fails before anything is renamed into place, and the
	// files staged so far are removed.
	dir2 := t.TempDir()
	bad := append(append([]Doc(nil), docs...), Doc{Namespace: "..", Name: "x", JSON: []byte(`{}`)})
	if _, err := WriteDir(dir2, bad, DirOptions{}); err == nil {
		t.Fatal("unsafe name accepted")
	}
	var files []string
	filepath.Walk(dir2, func(p string, fi os.FileInfo, _ error) error {
		if !fi.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) > 0 {
		t.Errorf("half output left behind: %v", files)
	}
}
