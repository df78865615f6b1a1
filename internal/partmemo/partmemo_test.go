package partmemo

import (
	"fmt"
	"sync"
	"testing"
)

// TestSmallestWins: the canonical instance is the smallest key's, then
// the lexically first, whatever the order (here, many goroutines).
func TestSmallestWins(t *testing.T) {
	var m Memo[string]
	keys := []string{"k\x00ccc", "k\x00bb", "k\x00ab", "k\x00aaaa", "k\x00ba"}
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		for _, k := range keys {
			wg.Add(1)
			go func() { defer wg.Done(); m.Remember("k", k, "x"+k) }()
		}
	}
	wg.Wait()
	if c, ok := m.Canonical("k"); !ok || c != "xk\x00ab" {
		t.Errorf("canonical %q, want the instance of k\\x00ab", c)
	}
	for _, k := range keys {
		if !m.Known(k) {
			t.Errorf("%q not known", k)
		}
	}
	if m.Known("k\x00zz") {
		t.Error("a key never remembered is known")
	}
	if _, ok := m.Canonical("other"); ok {
		t.Error("a kind with no part has a canonical instance")
	}
}

// TestBounded: past MaxBytes of keys, parts are no longer remembered
// (their kind's canonical instance still is).
func TestBounded(t *testing.T) {
	var m Memo[int]
	key := func(i int) string { return fmt.Sprintf("%01024d", i) }
	n := MaxBytes/1024 + 10
	for i := 0; i < n; i++ {
		m.Remember("k", key(i), i)
	}
	if m.Bytes() > MaxBytes+1024 {
		t.Errorf("%d bytes of keys, bound %d", m.Bytes(), MaxBytes)
	}
	if m.Known(key(n - 1)) {
		t.Error("a key past the bound was remembered")
	}
	if c, _ := m.Canonical("k"); c != 0 {
		t.Errorf("canonical %d, want 0 (the smallest key)", c)
	}
}
