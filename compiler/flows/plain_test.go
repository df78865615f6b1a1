package flows

import "testing"

// TestPlain8: the eight-byte test agrees with the byte table.
func TestPlain8(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 8; pos++ {
			b := []byte("abcdefgh")
			b[pos] = byte(c)
			var v uint64
			for i := 7; i >= 0; i-- {
				v = v<<8 | uint64(b[i])
			}
			want := true
			for _, x := range b {
				want = want && strSafe[x]
			}
			if got := plain8(v); got != want {
				t.Fatalf("plain8(%q) = %v, want %v", b, got, want)
			}
		}
	}
}
