package flows

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	flowpb "github.com/cilium/cilium/api/v1/flow"

	"github.com/policypilot/ppc/ir"
)

// This file holds how one input is read on every core: a producer cuts
// it into blocks of whole lines (a regular file at positions, a stream
// through a read-ahead buffer), decoders turn each block's lines into
// records on their own goroutines, and the records are handed on in
// input order.

// readOne reads one input. A regular file (file, not nil) is read at
// positions: by the scanner from its start, then in blocks of lines by
// the decoders; r is not used.
func readOne(ctx context.Context, name string, r io.Reader, file *fileSource, opts Options, newPrepare func() func(*flowpb.Flow) any, sum *Summary, ds *ir.Diagnostics, fn func(*Record, any) error) (err error) {
	stop := make(chan struct{}) // closed when reading ends
	// A stream (not a regular file) may stay open: what was read of it is
	// handed on before waiting for more.
	stream := file == nil
	if file != nil && file.gzip() {
		file = nil // gzip: decompress from the stream
	}
	var ahead *readAhead
	if file != nil {
		r = &file.stream
	} else {
		if r, err = maybeGunzip(r); err != nil {
			close(stop)
			return fmt.Errorf("read flows %s: %w", name, err)
		}
		ahead = newReadAhead(r, stop)
		r = ahead
	}
	var waitable *readAhead // the input, when reading it may wait
	if stream {
		waitable = ahead
	}
	d := decoder{file: name, warned: map[string]bool{}, slow: opts.Protojson}
	sc := newScanner(r, opts.MaxRecordSize)
	fail := func(line int, format string, args ...any) error {
		diag := ir.Errorf("ppc_ingest_error", ir.Pos{File: name, Line: line}, format, args...)
		diag.Stage = "learn" // the compiler stage that reads flows
		sum.Malformed++
		if sum.Malformed > int64(opts.MaxErrors) {
			*ds = append(*ds, diag)
			return fmt.Errorf("%s: %w (--max-errors %d)", diag.Pos, ErrTooManyErrors, opts.MaxErrors)
		}
		diag.Severity = ir.Warning
		diag.Msg += " (skipped)"
		*ds = append(*ds, diag)
		return nil
	}
	// One value: count it, decode it unless the fast path did, hand its
	// records to fn.
	value := func(v *rawValue, tryFast bool) error {
		sum.Records++
		if opts.Progress != nil {
			opts.Progress.Records.Add(1)
		}
		recs, err := d.decode(v, tryFast)
		if err != nil {
			return fail(v.line, "%v", err)
		}
		*ds = append(*ds, d.takeWarnings()...)
		for i := range recs {
			rec := &recs[i]
			if rec.Kind != KindFlow {
				sum.NonFlow[rec.Kind.String()]++
				continue
			}
			sum.Flows++
			if err := fn(rec, nil); err != nil {
				return err
			}
		}
		return nil
	}
	scanErr := func(err error, line int) error {
		var se *scanError
		if errors.As(err, &se) {
			sum.Records++
			return fail(se.line, "%s", se.msg)
		}
		if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("read flows %s: line %d: %w", name, line, err)
		}
		return fmt.Errorf("read flows %s: %w", name, err)
	}
	// The producer runs ahead in its own goroutine: the scanner splits the
	// input into values until it is known to be NDJSON, then the input is
	// cut into blocks of whole lines. Chunks of values or lines are decoded
	// by the fast path on every core, and this goroutine takes the chunks
	// in input order: records reach fn in the order of the file, whatever
	// the number of cores. Lines the fast path declines (not exactly one
	// flow) go through the scanner here, in order, as if it had read them.
	workers := runtime.GOMAXPROCS(0)
	work := make(chan *chunk, 2*workers)
	ordered := make(chan *chunk, 4*workers)
	free := newSpares(6*workers + 2)
	bs := opts.blockSize
	if bs <= 0 {
		bs = blockSize
	}
	p := &producer{sc: sc, work: work, ordered: ordered, stop: stop, free: free,
		lineMode: !opts.noLineMode, blockSize: bs, file: file, waitable: waitable}
	var wg sync.WaitGroup
	if file != nil {
		// The file must stay open until every goroutine that reads it is
		// done. (A stream is not waited for: its producer may be blocked
		// reading a pipe that stays open.)
		defer wg.Wait()
	}
	defer close(stop)
	wg.Go(p.run)
	for w := 0; w < workers; w++ {
		wg.Go(func() { decodeChunks(work, free, opts.Protojson, newPrepare) })
	}
	next := 0 // in line mode, the line the next block starts on
	var rec Record
	for {
		// Waiting for a stream that stays open (hubble observe --follow)
		// ends when ctx does.
		var c *chunk
		var more bool
		select {
		case c, more = <-ordered:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !more {
			break
		}
		select {
		case <-c.ready:
		case <-ctx.Done():
			return ctx.Err()
		}
		base := 0 // the line a block starts on
		if c.lines {
			if c.first > 0 {
				next = c.first
			}
			base = next
			next += c.newlines
		}
		for i := range c.items {
			it := &c.items[i]
			switch {
			case c.lines:
				it.line += base
			case it.line == 0:
				it.line = next // a read error after the last block
			}
			switch {
			case it.err != nil:
				if err := scanErr(it.err, it.line); err != nil {
					return err
				}
			case it.decoded && !(it.cri && sc.inArray):
				sum.Records++
				sum.Flows++
				if opts.Progress != nil {
					opts.Progress.Records.Add(1)
				}
				rec = Record{Pos: ir.Pos{File: name, Line: it.line}, Kind: KindFlow, Flow: it.flow}
				if err := fn(&rec, it.prepared); err != nil {
					return err
				}
			case it.v != nil:
				// The workers tried the fast path already.
				if err := value(it.v, false); err != nil {
					return err
				}
			case it.raw != nil:
				sc.feed(it.raw, it.line)
				for len(sc.pending) > 0 {
					v, err := sc.scanPending()
					if err != nil {
						if err := scanErr(err, it.line); err != nil {
							return err
						}
						continue
					}
					if v != nil {
						if err := value(v, !opts.Protojson); err != nil {
							return err
						}
					}
				}
			}
		}
		if c.eof {
			// The number of lines, as the scanner counts them.
			sc.line = next - 1
			if c.unterminated {
				sc.line = next
			}
			for err := sc.finish(); !errors.Is(err, io.EOF); err = sc.finish() {
				if err := scanErr(err, sc.line); err != nil {
					return err
				}
			}
		}
		free.putBuf(c.buf)
		if c.lines {
			free.putItems(c.items)
		}
	}
	return nil
}

// scanned is one value, line or error of the input.
type scanned struct {
	v       *rawValue // a value the scanner split out
	raw     []byte    // a line of NDJSON, with its newline
	err     error
	line    int          // the line of v or raw
	decoded bool         // the fast path decoded v or raw:
	flow    *flowpb.Flow // its flow, unless it was prepared
	cri     bool         // raw's flow followed a container-runtime log prefix
	// prepared is ReadPrepared's function's result for the flow.
	prepared any
}

// chunk is a run of scanned values, or a block of whole lines (split into
// items by the decoders); ready is closed once decoded.
type chunk struct {
	items []scanned
	// A block of lines: its items' lines count from 0 at its start; the
	// reader numbers them.
	lines    bool
	block    []byte
	buf      []byte // what block was read into, reused once read
	first    int    // the line the first block starts on (0 for the others)
	newlines int    // the newlines in block
	eof      bool   // the last chunk of line mode
	// unterminated: the input's last line has no newline (set with the
	// lines of an eof chunk).
	unterminated bool
	// The lines of a file that start in [off, end) are read by the
	// decoders; head: a line starts at off.
	file     *fileSource
	off, end int64
	head     bool
	ready    chan struct{}
}

const (
	chunkSize = 256       // values per chunk
	blockSize = 512 << 10 // bytes per block of lines (a line may be longer)
)

// producer splits the input into chunks, sending each to the decoders
// and, in order, to the reader.
type producer struct {
	sc            *scanner
	work, ordered chan<- *chunk
	stop          <-chan struct{}
	free          *spares
	lineMode      bool // switch to line mode when the input allows
	blockSize     int
	file          *fileSource // the input, when a regular file
	waitable      *readAhead  // the input, when reading it may wait
}

func (p *producer) send(c *chunk) bool {
	select {
	case p.work <- c:
	case <-p.stop:
		return false
	}
	select {
	case p.ordered <- c:
	case <-p.stop:
		return false
	}
	return true
}

// run produces until the end of the input, an error that ends reading,
// or stop.
func (p *producer) run() {
	defer close(p.work)
	defer close(p.ordered)
	sc := p.sc
	for {
		c := &chunk{ready: make(chan struct{})}
		end, lines := false, false
		for len(c.items) < chunkSize {
			v, err := sc.next()
			if errors.Is(err, io.EOF) {
				end = true
				break
			}
			it := scanned{v: v, err: err, line: sc.line}
			if v != nil {
				it.line = v.line
			}
			c.items = append(c.items, it)
			var se *scanError
			if err != nil && !errors.As(err, &se) {
				end = true
				break
			}
			if v != nil && p.lineMode && sc.lineMode() {
				lines = true
				break
			}
			if p.waitable != nil && sc.idle() && !p.waitable.readyWithin(idleWait) {
				break // what was read is handed on before waiting for more
			}
		}
		if len(c.items) > 0 && !p.send(c) {
			return
		}
		if end {
			return
		}
		if lines {
			break
		}
	}
	if p.file != nil {
		// The scanner has consumed what it read but still buffers.
		p.fileLines(p.file.stream.off-int64(sc.r.Buffered()), sc.line+1)
		return
	}
	p.readLines(sc.line + 1)
}

// fileLines cuts the rest of a file, from pos, into ranges of blockSize
// bytes; the first starts on line first. The decoders read the lines
// that start in each range, in parallel.
func (p *producer) fileLines(pos int64, first int) {
	size := p.file.size
	for off := pos; ; off += int64(p.blockSize) {
		end := min(off+int64(p.blockSize), size)
		c := &chunk{lines: true, file: p.file, off: off, end: end, head: off == pos, first: first, eof: end == size, ready: make(chan struct{})}
		first = 0
		if !p.send(c) || c.eof {
			return
		}
	}
}

// readLines reads the rest of the input in blocks of whole lines, the
// first starting on line first.
func (p *producer) readLines(first int) {
	var carry []byte
	for {
		buf := p.free.buf()
		if need := len(carry) + p.blockSize/2 + 1; cap(buf) < need {
			buf = make([]byte, 0, max(p.blockSize, 2*need))
		}
		buf = append(buf[:0], carry...)
		n, err := fillLines(p.sc.r, buf[len(buf):cap(buf)], p.waitable)
		buf = buf[:len(buf)+n]
		eof := errors.Is(err, io.EOF)
		block := buf
		carry = carry[:0]
		if len(buf) > p.sc.max && bytes.LastIndexByte(buf, '\n') < 0 {
			// A line longer than any record: stop, before it grows on.
			p.send(&chunk{items: []scanned{{err: &recordTooLong{line: first, max: p.sc.max}}}, ready: make(chan struct{})})
			return
		}
		if !eof {
			k := bytes.LastIndexByte(buf, '\n')
			if k < 0 && err == nil {
				// A line longer than the block: read on.
				carry = append(carry, buf...)
				continue
			}
			block = buf[:k+1]
			carry = append(carry, buf[k+1:]...)
		}
		c := &chunk{lines: true, block: block, buf: buf, first: first, eof: eof, ready: make(chan struct{})}
		c.unterminated = eof && len(block) > 0 && block[len(block)-1] != '\n'
		first = 0
		if !p.send(c) || eof {
			return
		}
		if err != nil {
			// The whole lines before a read error are read; then the error.
			p.send(&chunk{items: []scanned{{err: err}}, ready: make(chan struct{})})
			return
		}
	}
}

// fillLines reads into b until it is full, the input ends (io.EOF),
// reading fails, or b holds a whole line and waitable (not nil) has
// nothing more to give for a while (a stream that stays open: its lines
// are handed on as they come).
func fillLines(r *bufio.Reader, b []byte, waitable *readAhead) (int, error) {
	n, line := 0, false
	for n < len(b) {
		m, err := r.Read(b[n:])
		line = line || bytes.IndexByte(b[n:n+m], '\n') >= 0
		n += m
		if err != nil {
			return n, err
		}
		if waitable != nil && line && r.Buffered() == 0 && !waitable.readyWithin(idleWait) {
			break
		}
	}
	return n, nil
}

// decodeChunks runs the fast path over the chunks it receives.
func decodeChunks(work <-chan *chunk, free *spares, slow bool, newPrepare func() func(*flowpb.Flow) any) {
	var fd fastDecoder
	var prepare func(*flowpb.Flow) any
	if newPrepare != nil {
		prepare = newPrepare()
		fd.reuse = true // prepared flows are not handed on
	}
	fast := func(it *scanned, data []byte) bool {
		f, _, ok := fd.decode(data)
		if !ok {
			return false
		}
		it.decoded = true
		if prepare != nil {
			it.prepared = prepare(f)
		} else {
			it.flow = f
		}
		return true
	}
	decode := func(c *chunk) {
		defer close(c.ready)
		if c.file != nil {
			var err error
			c.block, c.buf, c.unterminated, err = c.file.lines(c.off, c.end, c.head, free.buf())
			if err != nil {
				c.lines, c.items = false, []scanned{{err: err}}
				return
			}
		}
		if c.lines {
			c.items, c.newlines = splitLines(free.items(), c.block, slow, fast)
		} else if !slow {
			for i := range c.items {
				if it := &c.items[i]; it.v != nil {
					fast(it, it.v.data)
				}
			}
		}
	}
	for c := range work {
		decode(c)
	}
}

// splitLines turns a block of NDJSON lines into items: a flow for each
// line that holds exactly one (after a container-runtime log prefix, if
// any), the raw line for the others; blank lines are left out. Items'
// lines count from 0; it returns them and the number of newlines.
func splitLines(items []scanned, block []byte, slow bool, fast func(*scanned, []byte) bool) ([]scanned, int) {
	line := 0
	for len(block) > 0 {
		var raw []byte
		if k := bytes.IndexByte(block, '\n'); k >= 0 {
			raw, block = block[:k+1], block[k+1:]
			line++
		} else {
			raw, block = block, nil
		}
		if blank(raw) {
			continue
		}
		items = append(items, scanned{raw: raw, line: line - 1})
		it := &items[len(items)-1] // in place: an item of its own would escape
		if raw[len(raw)-1] != '\n' {
			it.line = line
		}
		if !slow && !fast(it, raw) {
			if j := criPrefix(raw); j > 0 && fast(it, raw[j:]) {
				it.cri = true
			}
		}
	}
	return items, line
}

// spares keeps the buffers and item slices of chunks read, for the
// chunks to come: reading a large file then allocates little.
type spares struct {
	bufs  chan []byte
	slots chan []scanned
}

func newSpares(n int) *spares {
	return &spares{bufs: make(chan []byte, n), slots: make(chan []scanned, n)}
}

// buf returns an empty buffer, or nil.
func (s *spares) buf() []byte { return tryReceive(s.bufs) }

// putBuf keeps b (unless nil) for reuse.
func (s *spares) putBuf(b []byte) {
	if b != nil {
		trySend(s.bufs, b[:0])
	}
}

// items returns an empty slice of items, or nil.
func (s *spares) items() []scanned { return tryReceive(s.slots) }

// putItems keeps items for reuse, cleared: they point into buffers and
// at prepared flows.
func (s *spares) putItems(items []scanned) {
	if cap(items) > 0 {
		clear(items)
		trySend(s.slots, items[:0])
	}
}

// tryReceive receives from c if a value is waiting.
func tryReceive[T any](c chan T) T {
	select {
	case v := <-c:
		return v
	default:
		var zero T
		return zero
	}
}

// trySend sends v on c unless c is full.
func trySend[T any](c chan T, v T) {
	select {
	case c <- v:
	default:
	}
}

// blank reports a line of JSON whitespace only.
func blank(b []byte) bool {
	for _, c := range b {
		if !isWS(c) {
			return false
		}
	}
	return true
}
