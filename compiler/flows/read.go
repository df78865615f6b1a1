package flows

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"

	flowpb "github.com/cilium/cilium/api/v1/flow"

	"github.com/policypilot/ppc/ir"
)

// Kind says what a record is.
type Kind int

// Record kinds. Only KindFlow carries a flow; the others are counted.
const (
	KindFlow Kind = iota
	KindLostEvents
	KindNodeStatus
	KindAgentEvent
	KindDebugEvent
)

// String names the kind as Hubble's JSON does.
func (k Kind) String() string {
	return [...]string{"flow", "lost_events", "node_status", "agent_event", "debug_event"}[k]
}

// Record is one value read from an input.
type Record struct {
	Pos  ir.Pos
	Kind Kind
	// Flow is set for KindFlow, unless the flow was prepared (see
	// ReadPrepared): the reader reuses the memory of a flow it prepared.
	Flow *flowpb.Flow
}

// Input is one named source of flows. Name "-" is standard input.
type Input struct {
	Name string
	R    io.Reader // nil: open Name from disk
}

// Options control reading.
type Options struct {
	// MaxErrors is how many malformed records are tolerated (reported as
	// warnings and skipped) before reading fails. 0 fails on the first.
	MaxErrors int
	// Stdin is read for the input named "-".
	Stdin io.Reader
	// Progress, if set, counts records as they are read (for a progress
	// indicator; read it from another goroutine).
	Progress *Progress
	// Protojson decodes every record with protojson, never with the fast
	// path (which gives the same records, faster): for comparisons.
	Protojson bool
	// Claim, if set, is shown the first bytes (up to 256; decompressed, for
	// gzip) of every input read by name (a file, "-"), which is opened
	// once: an input it claims (returns true) it has read itself from r,
	// which starts at the input's first (decompressed) byte; it is neither
	// read as flows nor counted in Summary.Files. It reads r only to claim: what it reads of a stream
	// would be lost to the flows. (compiler.Learn claims IR snapshots.)
	Claim func(name string, head []byte, r io.Reader) (bool, error)
	// MaxRecordSize bounds one record in bytes (0: MaxRecordSize).
	MaxRecordSize int

	// For tests: never switch to line mode; the size of a block of lines;
	// read files as streams; called once a file is open.
	noLineMode   bool
	blockSize    int
	noPositional bool
	afterOpen    func()
}

// Progress counts what has been read so far.
type Progress struct {
	Records atomic.Int64
}

// Summary counts what was read.
type Summary struct {
	Files     int
	Records   int64            // JSON values seen
	Flows     int64            // flow records handed to the callback
	NonFlow   map[string]int64 // non-flow records by kind
	Malformed int64            // malformed records skipped (within MaxErrors)
}

// ErrTooManyErrors is returned (wrapped) when more than MaxErrors malformed
// records were found.
var ErrTooManyErrors = errors.New("too many malformed records")

// Expand resolves the user's arguments into inputs: "-" is stdin, a
// directory stands for the regular files in it (sorted by name, so rotated
// exporter files are read in order), anything else is a file.
func Expand(args []string) ([]Input, error) {
	var ins []Input
	for _, a := range args {
		if a == "-" {
			ins = append(ins, Input{Name: "-"})
			continue
		}
		fi, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("read flows: %w", err)
		}
		if !fi.IsDir() {
			ins = append(ins, Input{Name: a})
			continue
		}
		ents, err := os.ReadDir(a)
		if err != nil {
			return nil, fmt.Errorf("read flows: %w", err)
		}
		var names []string
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") {
				continue
			}
			p := filepath.Join(a, e.Name())
			if e.Type()&fs.ModeSymlink != 0 {
				// A link to a file is read (a ConfigMap or a rotated
				// exporter's "current" link).
				if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
					names = append(names, p)
				}
				continue
			}
			if e.Type().IsRegular() {
				names = append(names, p)
			}
		}
		sort.Strings(names)
		if len(names) == 0 {
			return nil, fmt.Errorf("read flows: directory %s holds no files", a)
		}
		for _, n := range names {
			ins = append(ins, Input{Name: n})
		}
	}
	return ins, nil
}

// Read reads every input in order and calls fn for each record; the
// *Record is valid only during the call (its Flow may be kept). Malformed
// records and warnings (unknown fields, once per file and field) are
// returned as diagnostics; the returned error is non-nil when reading must
// stop: an I/O error, more malformed records than MaxErrors allows, or an
// error returned by fn.
func Read(ctx context.Context, inputs []Input, opts Options, fn func(*Record) error) (Summary, ir.Diagnostics, error) {
	return read(ctx, inputs, opts, nil, func(r *Record, _ any) error { return fn(r) })
}

// ReadPrepared is Read with each flow prepared where it was decoded, on
// every core: newPrepare is called once per decoding goroutine, and the
// function it returns runs on that goroutine for each flow the fast path
// decoded. fn gets its result with the record (whose Flow is then nil),
// in input order; for any other record (protojson's, non-flow ones) it
// gets P's zero value and the record's Flow. The flow's own memory (the
// Flow, its IP, L4 and time messages) is reused once the function
// returns, so it must not keep them; strings, slices and the Endpoint and
// Layer7 messages are not reused (a decoder hands the same Endpoint to
// the flows that carry the same endpoint bytes).
func ReadPrepared[P any](ctx context.Context, inputs []Input, opts Options, newPrepare func() func(*flowpb.Flow) P, fn func(*Record, P) error) (Summary, ir.Diagnostics, error) {
	boxed := func() func(*flowpb.Flow) any {
		prepare := newPrepare()
		return func(f *flowpb.Flow) any { return prepare(f) }
	}
	return read(ctx, inputs, opts, boxed, func(r *Record, v any) error {
		p, _ := v.(P) // the zero value when the flow was not prepared
		return fn(r, p)
	})
}

// read is Read and ReadPrepared: prepared values travel untyped between
// the decoding goroutines and fn, boxed by ReadPrepared alone.
func read(ctx context.Context, inputs []Input, opts Options, newPrepare func() func(*flowpb.Flow) any, fn func(*Record, any) error) (Summary, ir.Diagnostics, error) {
	sum := Summary{NonFlow: map[string]int64{}}
	var ds ir.Diagnostics
	for _, in := range inputs {
		if err := ctx.Err(); err != nil {
			return sum, ds, err
		}
		r, closer, file, err := open(in, opts)
		if err != nil {
			return sum, ds, err
		}
		claimed := false
		if opts.Claim != nil && in.R == nil {
			r, claimed, err = claim(in.Name, r, file, opts.Claim)
		}
		if err == nil && !claimed {
			sum.Files++
			err = readOne(ctx, in.Name, r, file, opts, newPrepare, &sum, &ds, fn)
		}
		if closer != nil {
			closer.Close()
		}
		if err != nil {
			return sum, ds, err
		}
	}
	return sum, ds, nil
}

// open returns what to read of in: a stream, what closes it, and, for a
// regular file, the file to read at positions.
func open(in Input, opts Options) (io.Reader, io.Closer, *fileSource, error) {
	switch {
	case in.R != nil:
		return in.R, nil, nil, nil
	case in.Name == "-":
		if opts.Stdin != nil {
			return opts.Stdin, nil, nil, nil
		}
		return os.Stdin, nil, nil, nil
	}
	f, err := os.Open(in.Name)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read flows: %w", err)
	}
	var file *fileSource
	if !opts.noPositional {
		file = newFileSource(f, opts.MaxRecordSize)
		if file != nil && opts.afterOpen != nil {
			opts.afterOpen()
		}
	}
	return f, f, file, nil
}

// claim shows fn an input's first bytes and returns the reader to go on
// with: a regular file is read at positions, so neither its first bytes
// nor fn's reading move anything; a stream goes on with the bytes peeked.
// A gzip input is shown decompressed (a snapshot may be compressed as
// flows are), and a gzip stream goes on decompressed.
func claim(name string, r io.Reader, file *fileSource, fn func(string, []byte, io.Reader) (bool, error)) (io.Reader, bool, error) {
	if file != nil {
		var rest io.Reader = io.NewSectionReader(file.f, 0, file.size)
		if file.gzip() {
			zr, err := gzip.NewReader(rest)
			if err != nil {
				return r, false, nil // not claimed: reading it as flows reports it
			}
			rest = zr
		}
		br := bufio.NewReaderSize(rest, 64<<10)
		head, _ := br.Peek(256)
		ok, err := fn(name, head, br)
		return r, ok, err
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); isGzip(magic) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, false, fmt.Errorf("read %s: %w", name, err)
		}
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	head, _ := br.Peek(256)
	ok, err := fn(name, head, br)
	return br, ok, err
}

// maybeGunzip detects gzip by its magic bytes, whatever the file is named.
func maybeGunzip(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); isGzip(magic) {
		return gzip.NewReader(br)
	}
	return br, nil
}

// errChanged is reported when a file shrinks while it is read.
var errChanged = errors.New("the file changed while it was read (truncated?)")
