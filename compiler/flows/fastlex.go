package flows

import (
	"encoding/binary"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// This file holds the fast path's JSON lexer: keys looked up in the
// descriptor tables, strings, numbers, booleans, enums and timestamps read
// exactly as protojson would accept them, and anything else declined.

// lexer reads one JSON value; bad is set (and sticks) when the fast path
// must decline.
type lexer struct {
	b       []byte
	i       int
	bad     bool
	bare    bool // a key that marks a bare flow was seen
	sawFlow bool // an ExportEvent's flow was read
	d       *fastDecoder
}

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (l *lexer) ws() {
	for l.i < len(l.b) && isWS(l.b[l.i]) {
		l.i++
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (l *lexer) peek() byte {
	l.ws()
	if l.i >= len(l.b) {
		return 0
	}
	return l.b[l.i]
}

// object reads the fields of one object of message m.
type object struct {
	m      *msgInfo
	seen   uint64 // field indexes
	oneofs uint64 // oneof indexes
	n      int
}

// open expects '{'.
func (l *lexer) open(depth int) bool {
	if depth > maxDepth || l.bad || l.peek() != '{' {
		l.bad = true
		return false
	}
	l.i++
	return true
}

// field returns the next field of the object (positioned at its value),
// or nil at its end or when declining.
func (l *lexer) field(o *object) *fieldInfo {
	if l.bad {
		return nil
	}
	c := l.peek()
	if o.n > 0 {
		if c == '}' {
			l.i++
			return nil
		}
		if c != ',' {
			l.bad = true
			return nil
		}
		l.i++
		c = l.peek()
	} else if c == '}' {
		l.i++
		return nil
	}
	o.n++
	if c != '"' {
		l.bad = true
		return nil
	}
	k, esc := l.str()
	if esc || l.bad {
		l.bad = true
		return nil
	}
	fi := o.m.lookup(k)
	if fi == nil || o.seen&(1<<fi.index) != 0 {
		l.bad = true // unknown, or a duplicate (perhaps under its other name)
		return nil
	}
	o.seen |= 1 << fi.index
	if fi.oneof != 0 {
		if o.oneofs&(1<<(fi.oneof-1)) != 0 {
			l.bad = true
			return nil
		}
		o.oneofs |= 1 << (fi.oneof - 1)
	}
	if l.peek() != ':' {
		l.bad = true
		return nil
	}
	l.i++
	if c := l.peek(); c == 'n' || c == 0 {
		l.bad = true // null: protojson decides
		return nil
	}
	return fi
}

// strSafe marks the bytes a string may hold without a closer look.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return
}()

// str reads a string and returns its raw contents and whether it holds
// escapes. It declines control characters, invalid UTF-8, escapes other
// than the JSON ones and \u escapes of surrogates (which the two parsers
// might read differently).
func (l *lexer) str() ([]byte, bool) {
	if l.i >= len(l.b) || l.b[l.i] != '"' {
		l.bad = true
		return nil, false
	}
	l.i++
	start := l.i
	b := l.b
	i := l.i
	esc, high := false, false
	for {
		// Eight bytes at a time while none needs a closer look.
		for i+8 <= len(b) && plain8(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && strSafe[b[i]] {
			i++
		}
		if i >= len(b) {
			l.bad = true
			return nil, false
		}
		switch c := b[i]; {
		case c == '"':
			s := b[start:i]
			l.i = i + 1
			if high && !utf8.Valid(s) {
				l.bad = true
			}
			return s, esc
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				l.bad = true
				return nil, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				r, ok := hex4(b, i+2)
				if !ok || (r >= 0xD800 && r <= 0xDFFF) {
					l.bad = true
					return nil, false
				}
				i += 6
			default:
				l.bad = true
				return nil, false
			}
		case c < 0x20:
			l.bad = true
			return nil, false
		default:
			high = true
			i++
		}
	}
}

// plain8 reports whether none of the eight bytes of v is a control
// character, a quote, a backslash or non-ASCII.
func plain8(v uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	zero := func(x uint64) uint64 { return (x - ones) & ^x & highs }
	return (v&highs)|((v-0x20*ones) & ^v & highs)|zero(v^('"'*ones))|zero(v^('\\'*ones)) == 0
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, h := range b[i : i+4] {
		switch {
		case h >= '0' && h <= '9':
			r = r*16 + rune(h-'0')
		case h >= 'a' && h <= 'f':
			r = r*16 + rune(h-'a'+10)
		case h >= 'A' && h <= 'F':
			r = r*16 + rune(h-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// unescape decodes the escapes str accepted.
func unescape(s []byte) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch s[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, _ := hex4(s, i+1)
			out = utf8.AppendRune(out, r)
			i += 4
		default: // " \ /
			out = append(out, s[i])
		}
	}
	return string(out)
}

// text reads a string value.
func (l *lexer) text() string {
	s, esc := l.str()
	if l.bad {
		return ""
	}
	if esc {
		return unescape(s)
	}
	return string(s)
}

// element moves to element n of an array, opening it at n == 0; it
// returns false at the array's end (consumed) or when declining.
func (l *lexer) element(n int) bool {
	if l.bad {
		return false
	}
	c := l.peek()
	if n == 0 {
		if c != '[' {
			l.bad = true
			return false
		}
		l.i++
		c = l.peek()
	}
	if c == ']' {
		l.i++
		return false
	}
	if n > 0 {
		if c != ',' {
			l.bad = true
			return false
		}
		l.i++
	}
	return true
}

// texts reads a list of strings.
func (l *lexer) texts() []string {
	var out []string
	for n := 0; l.element(n); n++ {
		if l.peek() != '"' {
			l.bad = true
			break
		}
		out = append(out, l.text())
	}
	return out
}

// delim reports whether a number or literal ended where one may: protojson
// reads "80x" or "truex" as one bad token.
func (l *lexer) delim() {
	if l.i < len(l.b) {
		switch c := l.b[l.i]; {
		case c == '-' || c == '+' || c == '.' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			l.bad = true
		}
	}
}

// boolean reads true or false.
func (l *lexer) boolean() bool {
	switch {
	case hasPrefixAt(l.b, l.i, "true"):
		l.i += 4
		l.delim()
		return true
	case hasPrefixAt(l.b, l.i, "false"):
		l.i += 5
		l.delim()
		return false
	}
	l.bad = true
	return false
}

// numberLiteral reads the digits (and signs) of a number or of a quoted
// number without escapes; parsing them is the caller's.
func (l *lexer) numberLiteral() []byte {
	if l.peek() == '"' {
		s, esc := l.str()
		if esc {
			l.bad = true
		}
		return s
	}
	start := l.i
	for l.i < len(l.b) && (l.b[l.i] == '-' || l.b[l.i] >= '0' && l.b[l.i] <= '9') {
		l.i++
	}
	lit := l.b[start:l.i]
	l.delim()
	return lit
}

// integer reads an integer in [lo, hi], as a number or a quoted number:
// -?(0|[1-9][0-9]{0,19}). Fractions and exponents decline.
func (l *lexer) integer(lo, hi int64) int64 {
	lit := l.numberLiteral()
	if l.bad {
		return 0
	}
	n, ok := parseInt(lit)
	if !ok || n < lo || n > hi {
		l.bad = true
		return 0
	}
	return n
}

// parseInt parses -?(0|[1-9][0-9]{0,19}) within int64.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 20 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	if neg {
		n = -n
	}
	return n, true
}

// uint64Value validates a uint64 (numbers beyond int64 included).
func (l *lexer) uint64Value() {
	lit := l.numberLiteral()
	if l.bad {
		return
	}
	if len(lit) > 0 && lit[0] == '-' {
		if _, ok := parseInt(lit); !ok || string(lit) != "-0" {
			l.bad = true
		}
		return
	}
	if len(lit) == 0 || len(lit) > 20 || (lit[0] == '0' && len(lit) > 1) {
		l.bad = true
		return
	}
	var n uint64
	for _, c := range lit {
		if c < '0' || c > '9' {
			l.bad = true
			return
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			l.bad = true
			return
		}
		n = n*10 + d
	}
}

// enum reads an enum value: a name of the enum or an int32.
func (l *lexer) enum(names map[string]protoreflect.EnumNumber) protoreflect.EnumNumber {
	if l.peek() == '"' {
		s, esc := l.str()
		if l.bad {
			return 0
		}
		n, ok := names[string(s)]
		if esc || !ok {
			l.bad = true
		}
		return n
	}
	return protoreflect.EnumNumber(l.integer(-1<<31, 1<<31-1))
}

// timestamp reads YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z, the form Hubble writes,
// with the checks time.Parse(time.RFC3339Nano) makes (protojson's parser).
func (l *lexer) timestamp() (sec int64, nsec int32) {
	s, esc := l.str()
	if l.bad {
		return 0, 0
	}
	sec, nsec, ok := parseTimestamp(s)
	if esc || !ok {
		l.bad = true
	}
	return sec, nsec
}

func parseTimestamp(b []byte) (int64, int32, bool) {
	const shape = "0000-00-00T00:00:00"
	if len(b) < len(shape)+1 || b[len(b)-1] != 'Z' {
		return 0, 0, false
	}
	num := func(i, n int) int {
		v := 0
		for _, c := range b[i : i+n] {
			v = v*10 + int(c-'0')
		}
		return v
	}
	for i := 0; i < len(shape); i++ {
		if shape[i] == '0' {
			if b[i] < '0' || b[i] > '9' {
				return 0, 0, false
			}
		} else if b[i] != shape[i] {
			return 0, 0, false
		}
	}
	year, month, day := num(0, 4), num(5, 2), num(8, 2)
	hour, minute, second := num(11, 2), num(14, 2), num(17, 2)
	if year == 0 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || second > 59 {
		return 0, 0, false
	}
	frac := b[len(shape) : len(b)-1]
	nsec := 0
	if len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return 0, 0, false
		}
		for _, c := range frac[1:] {
			if c < '0' || c > '9' {
				return 0, 0, false
			}
			nsec = nsec*10 + int(c-'0')
		}
		for range 10 - len(frac) {
			nsec *= 10
		}
	}
	t := time.Date(year, time.Month(month), day, hour, minute, second, nsec, time.UTC)
	return t.Unix(), int32(nsec), true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// value validates (and skips) a value of field fi.
func (l *lexer) value(fi *fieldInfo, depth int) {
	if !fi.list {
		l.single(fi, depth)
		return
	}
	for n := 0; l.element(n); n++ {
		if l.peek() == 'n' {
			l.bad = true // null in a list
			return
		}
		l.single(fi, depth)
	}
}

func (l *lexer) single(fi *fieldInfo, depth int) {
	switch fi.kind {
	case vString, vStringValue:
		l.str()
	case vBool, vBoolValue:
		l.boolean()
	case vInt32, vInt32Value:
		l.integer(-1<<31, 1<<31-1)
	case vUint32, vUInt32Value:
		l.integer(0, 1<<32-1)
	case vInt64:
		l.integer(-1<<63, 1<<63-1)
	case vUint64:
		l.uint64Value()
	case vEnum:
		l.enum(fi.enum)
	case vTimestamp:
		l.timestamp()
	case vMessage:
		l.message(fi.msg, depth+1)
	default:
		l.bad = true
	}
}

// message validates (and skips) an object of message m.
func (l *lexer) message(m *msgInfo, depth int) {
	if !l.open(depth) {
		return
	}
	o := object{m: m}
	for fi := l.field(&o); fi != nil; fi = l.field(&o) {
		l.value(fi, depth)
	}
}
