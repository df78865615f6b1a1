package mermaid

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// TestChecksum proves the embedded script is the one VERSION records.
func TestChecksum(t *testing.T) {
	s, err := Script()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(s)
	if got, want := hex.EncodeToString(sum[:]), Field("sha256"); got != want || want == "" {
		t.Fatalf("mermaid.min.js sha256 = %s, VERSION says %q", got, want)
	}
	if Version() == "" || !bytes.Contains(s, []byte(`globalThis["mermaid"]`)) {
		t.Fatalf("version %q; script does not define the mermaid global", Version())
	}
}
