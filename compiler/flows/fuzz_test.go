package flows

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRead: no input panics the reader, every diagnostic names a line, and
// every record it returns has a flow and a position.
func FuzzRead(f *testing.F) {
	for _, s := range []string{wrapped, bare, camel, lost, status, agent, "[" + wrapped + "," + bare + "]",
		"{\n \"flow\": {}\n}", "2026-01-01T00:00:00Z stdout F " + wrapped, `{"log":"{}","stream":"stdout"}`, "\x1f\x8b garbage"} {
		f.Add([]byte(s))
	}
	// Seed with the first lines of the real captures.
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "flows", "*.json*"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err == nil {
			if len(b) > 4096 {
				b = b[:4096]
			}
			f.Add(b)
		}
	}
	for _, in := range lineModeInputs {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want := readAll(t, data, Options{noLineMode: true})
		if got := readAll(t, data, Options{blockSize: 64}); got != want {
			t.Fatalf("line mode differs from the scanner:\n--- scanner\n%s\n--- line mode\n%s", want, got)
		}
		// The same bytes as a file, read at positions by the decoders.
		path := filepath.Join(t.TempDir(), "f.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if got := readPath(t, path, Options{blockSize: 64}); got != want {
			t.Fatalf("the file reads differently from the scanner:\n--- scanner\n%s\n--- file\n%s", want, got)
		}
		sum, ds, err := Read(context.Background(), []Input{{Name: "fuzz.json", R: strings.NewReader(string(data))}},
			Options{MaxErrors: 1 << 20}, func(r *Record) error {
				if r.Flow == nil || r.Pos.Line < 1 || r.Pos.File != "fuzz.json" {
					t.Fatalf("bad record %+v", r)
				}
				return nil
			})
		if err != nil && !errors.Is(err, ErrTooManyErrors) && !strings.Contains(err.Error(), "gzip") && !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "flate") {
			t.Fatalf("unexpected error %v", err)
		}
		for _, d := range ds {
			if d.Pos.Line < 1 || d.Pos.File != "fuzz.json" {
				t.Fatalf("diagnostic without a line: %v", d)
			}
		}
		if sum.Malformed > sum.Records {
			t.Fatalf("summary %+v", sum)
		}
	})
}
