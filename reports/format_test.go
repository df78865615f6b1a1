package reports

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestFormats(t *testing.T) {
	f := NewFormats[int]().
		Register("text", func(w io.Writer, v int, o Options) error { _, err := fmt.Fprintf(w, "%d in %s", v, o.Cwd); return err }).
		Register("json", func(w io.Writer, v int, _ Options) error { return WriteJSON(w, map[string]int{"v": v}) }).
		Register("junit", func(io.Writer, int, Options) error { return nil })
	if got := strings.Join(f.Names(), " "); got != "text json junit" {
		t.Errorf("Names() = %q, want registration order", got)
	}
	if err := f.Check("sarif"); err == nil || err.Error() != `-o "sarif": want text, json or junit` {
		t.Errorf("Check(sarif) = %v", err)
	}
	var b bytes.Buffer
	if err := f.Write(&b, "text", 7, Options{Cwd: "/src"}); err != nil || b.String() != "7 in /src" {
		t.Errorf("Write(text) = %q, %v", b.String(), err)
	}
	b.Reset()
	if err := f.Write(&b, "json", 7, Options{}); err != nil || b.String() != "{\n  \"v\": 7\n}\n" {
		t.Errorf("Write(json) = %q, %v", b.String(), err)
	}
	if err := f.Write(&b, "yaml", 7, Options{}); err == nil {
		t.Error("Write of an unregistered format succeeded")
	}
	defer func() {
		if recover() == nil {
			t.Error("a format registered twice is accepted")
		}
	}()
	f.Register("json", nil)
}
