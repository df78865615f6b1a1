package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ir.json")
	if err := Write(p, []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, []byte("b")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "b" {
		t.Errorf("got %q", b)
	}
	// A path below a regular file cannot be written.
	if err := Write(filepath.Join(p, "x"), []byte("a")); err == nil {
		t.Error("write below a regular file succeeded")
	}
}

func TestWriteCreatesDir(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a", "b", "report.html")
	if err := Write(p, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "x" {
		t.Fatalf("%q %v", b, err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v; want 0644", fi.Mode().Perm(), err)
	}
}

// A write that fails halfway leaves neither the file nor a temporary one,
// and an earlier version of the file stays as it was.
func TestWriteFuncFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.yaml")
	if err := Write(p, []byte("old")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := WriteFunc(p, func(w io.Writer) error {
		if _, err := w.Write([]byte("half")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Errorf("file = %q, want the old content", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries, want only out.yaml", len(ents))
	}
}
