package flows

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// fileSource reads a regular file at positions (pread): the scanner
// through stream, from the start, and then the decoders, each the lines
// of its own range, into its own buffer, which stays in that core's cache
// while it decodes the lines. Nothing beyond the size the file had when
// it was opened is read; a file that shrinks meanwhile ends reading with
// errChanged.
type fileSource struct {
	f      *os.File
	size   int64
	stream fileStream
	max    int // bytes a line may have
}

// newFileSource returns f as a fileSource, or nil when f is not a regular
// file.
func newFileSource(f *os.File, max int) *fileSource {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	if max <= 0 {
		max = MaxRecordSize
	}
	s := &fileSource{f: f, size: fi.Size(), max: max}
	s.stream.src = s
	return s
}

// gzip reports whether the file starts with gzip's magic bytes.
func (s *fileSource) gzip() bool {
	var magic [2]byte
	n, _ := s.f.ReadAt(magic[:], 0)
	return isGzip(magic[:n])
}

// isGzip reports whether b starts with gzip's magic bytes.
func isGzip(b []byte) bool {
	return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b
}

// readFull fills b from position off, which with b lies within the
// file's size.
func (s *fileSource) readFull(b []byte, off int64) error {
	n, err := s.f.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = errChanged
	}
	return err
}

// fileStream reads a fileSource from its start, in order.
type fileStream struct {
	src *fileSource
	off int64
}

// Read implements io.Reader.
func (r *fileStream) Read(b []byte) (int, error) {
	left := r.src.size - r.off
	if left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > left {
		b = b[:left]
	}
	if err := r.src.readFull(b, r.off); err != nil {
		return 0, err
	}
	r.off += int64(len(b))
	return len(b), nil
}

// lineReach is how much more is read at a time for a line that goes on
// past the end of its range.
const lineReach = 64 << 10

// lines reads the whole lines that start in [off, end) into buf (reused
// when large enough) and returns them; head says a line starts at off
// (else one starts wherever the previous byte is a newline). The last of
// them may go on past end, up to its newline or the end of the file.
// When end is the file's end, unterminated reports that its last byte is
// not a newline.
func (s *fileSource) lines(off, end int64, head bool, buf []byte) (block, b []byte, unterminated bool, err error) {
	start := off
	if !head {
		start-- // to see whether a line starts at off
	}
	n := int(end - start)
	if cap(buf) < n {
		buf = make([]byte, n, n+n/8+lineReach)
	}
	buf = buf[:n]
	if err := s.readFull(buf, start); err != nil {
		return nil, nil, false, err
	}
	unterminated = end == s.size && n > 0 && buf[n-1] != '\n'
	first := 0
	if !head {
		k := bytes.IndexByte(buf, '\n')
		if k < 0 {
			return buf[:0], buf, unterminated, nil // inside a line started before
		}
		first = k + 1
	}
	if first == len(buf) {
		return buf[:0], buf, unterminated, nil
	}
	// The last line started here goes on to its newline.
	pos := end
	for buf[len(buf)-1] != '\n' && pos < s.size {
		m := int(min(lineReach, s.size-pos))
		at := len(buf)
		if cap(buf)-at < m {
			nb := make([]byte, at, 2*cap(buf)+m)
			copy(nb, buf)
			buf = nb
		}
		buf = buf[:at+m]
		if err := s.readFull(buf[at:], pos); err != nil {
			return nil, nil, false, err
		}
		pos += int64(m)
		if k := bytes.IndexByte(buf[at:], '\n'); k >= 0 {
			buf = buf[:at+k+1]
		} else if len(buf)-first > s.max+int(end-start) {
			return nil, nil, false, fmt.Errorf("byte %d: a line of more than %s: not Hubble JSON (raise the bound with --max-record-size)", end, sizeText(s.max))
		}
	}
	return buf[first:], buf, unterminated, nil
}
