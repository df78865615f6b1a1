// Package textsafe makes untrusted text (names and messages derived from
// cluster data, policy files and rule packs) safe to print on a terminal:
// control characters cannot clear the screen, move the cursor or forge a
// line of ppc's output, and bidirectional overrides cannot reorder what a
// reviewer reads.
package textsafe

import (
	"fmt"
	"strings"
	"unicode"
)

// Line returns s with every control character (C0, DEL, C1, line and
// paragraph separators, bidirectional controls) written as a visible Go
// escape (\n, \x1b, \u202e). Other text is unchanged.
func Line(s string) string {
	if !strings.ContainsFunc(s, unsafe) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == unicode.ReplacementChar:
			b.WriteRune(r)
		case unsafe(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafe(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func unsafe(r rune) bool {
	switch {
	case unicode.IsControl(r): // C0, DEL, C1
		return true
	case r == '\u2028' || r == '\u2029': // line and paragraph separators
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069', r == '\u200e' || r == '\u200f', r == '\u061c':
		return true // bidirectional embeddings, overrides, isolates and marks
	}
	return false
}
