package flows

import (
	"errors"
	"io"
	"time"
)

// readAhead reads a stream (a pipe, or a gzip decompressor) on a goroutine
// of its own, ahead of its reader: decompression runs beside decoding, and
// the reader can tell whether more input is there without waiting for it
// (ready), so the lines of a stream that stays open are handed on as they
// come rather than when a block fills up (within idleWait).
type readAhead struct {
	full chan []byte // read, not yet consumed
	free chan []byte // consumed, to read into again
	stop <-chan struct{}
	buf  []byte // the buffer cur is the rest of
	cur  []byte
	done bool  // full is closed
	err  error // why reading ended; set before full is closed
}

// readAheadSize is the size of a read-ahead buffer.
const readAheadSize = 256 << 10

// idleWait is how long a stream may give nothing before what was read of
// it is handed on.
const idleWait = 10 * time.Millisecond

// errStopped ends a read that reading as a whole no longer waits for.
var errStopped = errors.New("reading stopped")

func newReadAhead(r io.Reader, stop <-chan struct{}) *readAhead {
	a := &readAhead{full: make(chan []byte, 4), free: make(chan []byte, 6), stop: stop}
	go a.run(r)
	return a
}

func (a *readAhead) run(r io.Reader) {
	defer close(a.full)
	for {
		b := tryReceive(a.free)
		if b == nil {
			b = make([]byte, readAheadSize)
		}
		n, err := r.Read(b[:cap(b)])
		if n > 0 {
			select {
			case a.full <- b[:n]:
			case <-a.stop:
				return
			}
		}
		if err != nil {
			a.err = err
			return
		}
	}
}

// Read implements io.Reader.
func (a *readAhead) Read(p []byte) (int, error) {
	for len(a.cur) == 0 {
		if a.done {
			if a.err == nil {
				return 0, errStopped // run gave up sending: reading stopped
			}
			return 0, a.err
		}
		select {
		case b, ok := <-a.full:
			a.take(b, ok)
		case <-a.stop:
			return 0, errStopped
		}
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

// take makes b, received from full (ok false: closed), the current
// buffer.
func (a *readAhead) take(b []byte, ok bool) {
	if a.buf != nil {
		trySend(a.free, a.buf)
	}
	a.buf, a.cur = b, b
	a.done = !ok
}

// readyWithin reports whether Read would return without waiting once d
// has passed (input came, or the stream ended). Input that is being read
// as fast as it can be comes within d; a stream that stays open and
// idle does not.
func (a *readAhead) readyWithin(d time.Duration) bool {
	if len(a.cur) > 0 || a.done || len(a.full) > 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case b, ok := <-a.full:
		a.take(b, ok)
		return true
	case <-t.C:
		return false
	case <-a.stop:
		return true // Read says so
	}
}
