package textsafe

import "testing"

func TestLine(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"shop/web", "shop/web"},
		{"café/ünï", "café/ünï"},
		{"evil\x1b[2Jns", `evil\x1b[2Jns`},
		{"a\nppc: ok: every flow is allowed", `a\nppc: ok: every flow is allowed`},
		{"tab\there\r", `tab\there\r`},
		{"\u202egnp.exe", `\u202egnp.exe`},
		{"del\x7f c1\u009b", `del\x7f c1\x9b`},
		{"sep\u2028x", `sep\u2028x`},
	} {
		if got := Line(tt.in); got != tt.want {
			t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzLine(f *testing.F) {
	f.Add("shop/web\x1b[31m\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range Line(s) {
			if unsafe(r) {
				t.Fatalf("Line(%q) keeps %U", s, r)
			}
		}
	})
}
