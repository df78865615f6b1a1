package flows

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// rawValue is one top-level JSON object split out of an input.
type rawValue struct {
	data []byte   // the object's bytes
	line int      // 1-based line the object starts on
	keys []string // its top-level keys, in order
}

// scanError is a malformed stretch of input that could not be split into a
// JSON object; scanning continues after it.
type scanError struct {
	line int
	msg  string
}

func (e *scanError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// scanner splits a byte stream into top-level JSON objects. It accepts
// NDJSON, pretty-printed or concatenated objects and top-level arrays of
// objects, and strips CRI log prefixes ("<time> stdout F ") at line starts.
// In NDJSON mode (the first object fitted on one line) a line ending inside
// an object ends that object as truncated, so one bad line cannot swallow
// the rest of the file.
type scanner struct {
	r    *bufio.Reader
	line int // current line number (1-based)
	eof  bool

	// state
	cur        []byte
	depth      int
	inStr, esc bool
	expectKey  bool
	keyStart   int
	keys       []string
	startLine  int
	inArray    bool
	ndjson     int // 0 unknown, 1 yes, -1 no
	atLineHead bool

	pending []byte // rest of the current line not yet scanned

	max int // bytes a record may have (MaxRecordSize unless raised)
}

func newScanner(r io.Reader, max int) *scanner {
	if max <= 0 {
		max = MaxRecordSize
	}
	return &scanner{r: bufio.NewReaderSize(r, 256<<10), atLineHead: true, max: max}
}

// next returns the next object, a *scanError for a malformed stretch (call
// next again to continue), or io.EOF.
func (s *scanner) next() (*rawValue, error) {
	for {
		if len(s.pending) == 0 {
			if s.eof {
				return nil, s.finish()
			}
			line, err := s.r.ReadSlice('\n')
			if errors.Is(err, bufio.ErrBufferFull) {
				// A long line: keep a copy and continue it with the next slice.
				line = append([]byte(nil), line...)
				for errors.Is(err, bufio.ErrBufferFull) {
					var more []byte
					more, err = s.r.ReadSlice('\n')
					line = append(line, more...)
					if len(line) > s.max {
						return nil, &recordTooLong{line: s.line + 1, max: s.max}
					}
				}
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, err
			}
			if errors.Is(err, io.EOF) {
				s.eof = true
				if len(line) == 0 {
					continue
				}
			}
			s.line++
			if s.line == 1 {
				// A UTF-8 byte-order mark, as Windows editors and some
				// exporters write, is not part of the JSON.
				line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
			}
			s.atLineHead = true
			s.pending = line
		}
		v, err := s.scanPending()
		if v != nil || err != nil {
			return v, err
		}
	}
}

// lineMode reports whether the rest of the input may be read line by line:
// it is NDJSON (its first object fitted on one line, outside an array), and
// the scanner stands at the end of a line, outside any object.
func (s *scanner) lineMode() bool {
	return s.ndjson == 1 && s.depth == 0 && !s.inArray && !s.eof && blank(s.pending)
}

// idle reports whether the scanner has nothing read that it has not
// split yet: the next value needs more input (and may wait for it).
func (s *scanner) idle() bool {
	return len(s.pending) == 0 && s.r.Buffered() == 0
}

// feed gives the scanner one line (with its newline) that the line mode
// could not decode, as if it had read it.
func (s *scanner) feed(line []byte, n int) {
	s.line = n
	s.atLineHead = true
	s.pending = line
}

// finish is called at the end of input.
func (s *scanner) finish() error {
	if s.depth > 0 {
		line := s.startLine
		s.reset()
		return &scanError{line: line, msg: "unterminated JSON object at end of input"}
	}
	if s.inArray {
		s.inArray = false
		return &scanError{line: s.line, msg: "unterminated JSON array at end of input"}
	}
	return io.EOF
}

func (s *scanner) reset() {
	s.cur = s.cur[:0]
	s.depth = 0
	s.inStr, s.esc, s.expectKey = false, false, false
	s.keys = nil
}

// scanPending consumes s.pending until an object completes or the line ends.
func (s *scanner) scanPending() (*rawValue, error) {
	p := s.pending
	if s.depth == 0 {
		i := 0
		for i < len(p) {
			c := p[i]
			switch {
			case c == ' ' || c == '\t' || c == '\r' || c == '\n':
				i++
				continue
			case c == '[' && !s.inArray:
				s.inArray = true
				s.atLineHead = false
				i++
				continue
			case s.inArray && (c == ',' || c == ']'):
				if c == ']' {
					s.inArray = false
				}
				s.atLineHead = false
				i++
				continue
			case c == '{':
			case c == '[' && s.inArray:
				s.pending, s.inArray = nil, false // the rest of the line, the array's end with it, is skipped
				return nil, &scanError{line: s.line, msg: "a JSON array inside the top-level array: flow records are objects (one top-level array of objects, or objects one after another)"}
			case s.inArray && (c == '"' || c == '-' || c >= '0' && c <= '9' || c == 't' || c == 'f' || c == 'n'):
				s.pending, s.inArray = nil, false
				return nil, &scanError{line: s.line, msg: "a JSON value that is not an object in the top-level array: flow records are objects: " + excerpt(p[i:])}
			default:
				// Not JSON. A container-runtime log prefix at a line start is
				// stripped; anything else is reported and the line skipped.
				if s.atLineHead && !s.inArray {
					if j := criPrefix(p[i:]); j > 0 {
						i += j
						s.atLineHead = false
						continue
					}
				}
				s.pending = nil
				return nil, &scanError{line: s.line, msg: "not JSON: " + excerpt(p[i:])}
			}
			break
		}
		if i == len(p) {
			s.pending = nil
			return nil, nil
		}
		p = p[i:]
		s.startLine = s.line
		s.atLineHead = false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if s.inStr {
			switch {
			case s.esc:
				s.esc = false
			case c == '\\':
				s.esc = true
			case c == '"':
				s.inStr = false
				if s.keyStart >= 0 {
					s.cur = append(s.cur, p[:i+1]...)
					p = p[i+1:]
					i = -1
					s.keys = append(s.keys, string(s.cur[s.keyStart+1:len(s.cur)-1]))
					s.keyStart = -1
				}
			case c == '\n':
				// Raw newline in a string: invalid JSON; let the decoder say so
				// (or the NDJSON rule below end the object).
			}
			if c != '\n' {
				continue
			}
		}
		switch c {
		case '"':
			s.inStr = true
			s.keyStart = -1
			if s.depth == 1 && s.expectKey {
				s.keyStart = len(s.cur) + i
				s.expectKey = false
			}
		case '{', '[':
			s.depth++
			if s.depth == 1 {
				s.expectKey = true
			}
		case '}', ']':
			s.depth--
			if s.depth == 0 {
				s.cur = append(s.cur, p[:i+1]...)
				s.pending = p[i+1:]
				v := &rawValue{data: s.cur, line: s.startLine, keys: s.keys}
				if s.ndjson == 0 {
					s.ndjson = -1
					if s.startLine == s.line && !s.inArray {
						s.ndjson = 1
					}
				}
				s.cur, s.keys = nil, nil
				s.inStr, s.esc = false, false
				return v, nil
			}
		case ',':
			if s.depth == 1 {
				s.expectKey = true
			}
		case '\n':
			if s.ndjson == 1 {
				line := s.startLine
				s.reset()
				s.pending = nil
				return nil, &scanError{line: line, msg: "truncated JSON object (line ends inside it)"}
			}
		}
	}
	s.cur = append(s.cur, p...)
	if len(s.cur) > s.max {
		line := s.startLine
		s.reset()
		s.pending = nil
		return nil, &recordTooLong{line: line, max: s.max}
	}
	s.pending = nil
	return nil, nil
}

// criPrefix returns the length of a CRI log prefix ("<RFC3339 time>
// stdout|stderr F|P ") at the start of b, or 0.
func criPrefix(b []byte) int {
	sp := bytes.IndexByte(b, ' ')
	if sp < 10 || b[0] < '0' || b[0] > '9' {
		return 0
	}
	rest := b[sp+1:]
	for _, s := range []string{"stdout F ", "stdout P ", "stderr F ", "stderr P "} {
		if bytes.HasPrefix(rest, []byte(s)) {
			return sp + 1 + len(s)
		}
	}
	return 0
}

func excerpt(b []byte) string {
	b = bytes.TrimRight(b, "\r\n")
	if len(b) > 40 {
		return fmt.Sprintf("%q…", b[:40])
	}
	return fmt.Sprintf("%q", b)
}

// MaxRecordSize is the default bound on one record (a line, or an object
// over several lines; Options.MaxRecordSize raises it): a larger one is an
// error, not a buffer that grows until memory runs out (a gzip bomb of
// spaces, /dev/zero). Hubble's largest flows are a few KiB.
const MaxRecordSize = 64 << 20

// recordTooLong is the error for a record over MaxRecordSize; reading the
// input stops there.
type recordTooLong struct{ line, max int }

func (e *recordTooLong) Error() string {
	return fmt.Sprintf("line %d: a record of more than %s (no newline or no end of object in sight): not Hubble JSON (raise the bound with --max-record-size)", e.line, sizeText(e.max))
}

// sizeText writes a byte count in MiB when it is whole MiB.
func sizeText(n int) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
