package lower

import (
	"hash/maphash"
	"math/bits"
)

// window is the connection table's index: the set of the last n distinct
// five-tuples added, the oldest leaving when a new one comes. Each key
// has a ring entry number, which the builder uses to keep the
// connection's state beside it. It is a hash
// table of its own rather than a Go map because it is consulted for every
// flow, in input order, on one goroutine: keys are hashed beforehand on
// the decoding goroutines (hash), the table (a ring of keys, and an index
// into it probed linearly) never allocates once made, and the index is
// small enough to stay in a core's cache.
type window struct {
	n     int
	ring  slab[windowKey]
	next  int      // the ring entry replaced next, once the ring is full
	index []uint64 // per slot: ring entry + 1 (0: empty) << 32 | hash
	mask  uint64
	seed  maphash.Seed
}

type windowKey struct {
	k    fiveTuple
	hash uint32
}

func newWindow(n int) *window {
	size := uint64(1) << bits.Len(uint(2*n-1)) // a power of two ≥ 2n
	return &window{n: n, index: make([]uint64, size), mask: size - 1, seed: maphash.MakeSeed()}
}

// hash is the hash of k that add takes; it is safe for concurrent use.
func (w *window) hash(k fiveTuple) uint32 {
	return uint32(maphash.Comparable(w.seed, k))
}

// add returns the ring entry of k (whose hash is h) and whether k was in
// the window. A new key takes a new entry (len of the ring before) or,
// once the ring is full, the oldest key's entry: evicted is then true.
func (w *window) add(k fiveTuple, h uint32) (e int, found, evicted bool) {
	i := uint64(h) & w.mask
	for {
		s := w.index[i]
		if s == 0 {
			break
		}
		if uint32(s) == h && w.ring.at(int(s>>32-1)).k == k {
			return int(s>>32 - 1), true, false
		}
		i = (i + 1) & w.mask
	}
	e = w.ring.len()
	if e < w.n {
		w.ring.push(windowKey{k, h})
	} else {
		evicted = true
		e = w.next
		w.remove(e)
		*w.ring.at(e) = windowKey{k, h}
		w.next = (w.next + 1) % w.n
		// Removing may have moved slots: find the free one again.
		i = uint64(h) & w.mask
		for w.index[i] != 0 {
			i = (i + 1) & w.mask
		}
	}
	w.index[i] = uint64(e+1)<<32 | uint64(h)
	return e, false, evicted
}

// reset empties the window.
func (w *window) reset() {
	w.ring.reset()
	w.next = 0
	clear(w.index)
}

// remove takes ring entry e out of the index, moving the slots after it
// back so that every key stays reachable from its home slot.
func (w *window) remove(e int) {
	i := uint64(w.ring.at(e).hash) & w.mask
	for w.index[i]>>32 != uint64(e+1) {
		i = (i + 1) & w.mask
	}
	for j := i; ; {
		j = (j + 1) & w.mask
		s := w.index[j]
		if s == 0 {
			break
		}
		// The slot at j may move to the hole at i unless its home lies
		// cyclically in (i, j].
		home := uint64(uint32(s)) & w.mask
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			w.index[i] = s
			i = j
		}
	}
	w.index[i] = 0
}

// slab is an array that grows in fixed chunks: growing never copies (a
// table of 65,536 connections grown by append would allocate several
// times its size), and reset keeps the chunks for reuse.
type slab[T any] struct {
	chunks [][]T
	n      int
}

const slabBits = 10 // 1,024 elements per chunk

func (s *slab[T]) at(i int) *T { return &s.chunks[i>>slabBits][i&(1<<slabBits-1)] }

func (s *slab[T]) len() int { return s.n }

// push appends v and returns its index.
func (s *slab[T]) push(v T) int {
	if s.n>>slabBits == len(s.chunks) {
		s.chunks = append(s.chunks, make([]T, 1<<slabBits))
	}
	*s.at(s.n) = v
	s.n++
	return s.n - 1
}

// reset empties the slab; elements are overwritten by push.
func (s *slab[T]) reset() { s.n = 0 }
