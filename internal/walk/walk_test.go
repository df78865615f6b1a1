package walk

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestFiles: a directory shaped like a mounted ConfigMap (links to files
// in a hidden, timestamped directory) lists its files once, and a link
// loop ends.
func TestFiles(t *testing.T) {
	d := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(d, "..2026_12_02"), 0o755))
	must(os.WriteFile(filepath.Join(d, "..2026_12_02", "web.yaml"), []byte("x"), 0o644))
	must(os.Symlink("..2026_12_02", filepath.Join(d, "..data")))
	must(os.Symlink(filepath.Join("..data", "web.yaml"), filepath.Join(d, "web.yaml")))
	must(os.MkdirAll(filepath.Join(d, "sub"), 0o755))
	must(os.WriteFile(filepath.Join(d, "sub", "api.yaml"), []byte("x"), 0o644))
	must(os.Symlink("..", filepath.Join(d, "sub", "loop")))
	must(os.WriteFile(filepath.Join(d, "notes.txt"), []byte("x"), 0o644))
	got, err := Files(d, func(n string) bool { return strings.HasSuffix(n, ".yaml") })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(d, "sub", "api.yaml"), filepath.Join(d, "web.yaml")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
