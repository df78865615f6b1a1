package flows

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkFileLines reads content from pos in ranges of bs bytes, as the
// decoders do, and checks that the blocks are whole lines that put
// together give content[pos:] again.
func checkFileLines(t *testing.T, content []byte, pos, bs int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src := newFileSource(f, 0)
	size := int64(len(content))
	var got []byte
	var buf []byte
	for off := int64(pos); ; off += int64(bs) {
		end := min(off+int64(bs), size)
		block, b, unterminated, err := src.lines(off, end, off == int64(pos), buf)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(block); n > 0 && block[n-1] != '\n' && int64(len(got)+pos+n) != size {
			t.Fatalf("range %d-%d: block %q ends inside a line", off, end, block)
		}
		if end == size {
			// An empty range (the scanner read everything) reports
			// nothing: the scanner counted the lines.
			want := end > off && content[size-1] != '\n'
			if unterminated != want {
				t.Fatalf("range %d-%d: unterminated %v, want %v", off, end, unterminated, want)
			}
		}
		got = append(got, block...)
		buf = b[:0]
		if end == size {
			break
		}
	}
	if !bytes.Equal(got, content[pos:]) {
		t.Fatalf("pos %d, block size %d: the blocks give\n%q\nwant\n%q", pos, bs, got, content[pos:])
	}
}

// TestFileLines: the ranges' lines cover the file once, in order, in whole
// lines, whatever the range size and the lines' lengths.
func TestFileLines(t *testing.T) {
	huge := strings.Repeat("x", 3*lineReach+17)
	for _, content := range []string{
		"", "\n", "a", "a\n", "a\nb", "a\nb\n", "\n\n\nx\n\n",
		"one\ntwo\nthree\n",
		huge, huge + "\n", "a\n" + huge + "\nb\n" + huge,
	} {
		for _, pos := range []int{0, 1, 2} {
			if pos > len(content) {
				continue
			}
			for _, bs := range []int{1, 2, 3, 7, 4096, 1 << 20} {
				if bs < 7 && len(content) > 1000 {
					continue // ranges smaller than 7 take a while here
				}
				checkFileLines(t, []byte(content), pos, bs)
			}
		}
	}
}

func FuzzFileLines(f *testing.F) {
	f.Add([]byte("a\nb\n"), uint8(0), uint8(1))
	f.Add([]byte("{}\n\n{\"flow\":{}}"), uint8(3), uint8(5))
	f.Fuzz(func(t *testing.T, content []byte, pos, bs uint8) {
		p := min(int(pos), len(content))
		checkFileLines(t, content, p, int(bs)+1)
	})
}
