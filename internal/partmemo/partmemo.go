// Package partmemo is what verify's memos share (ppc's CUE schema's,
// schemas/memo.go, and the API server layer's, compiler/verify/crdmemo.go):
// the keys of the parts of policies found valid, bounded in bytes, and
// for each kind of part the smallest valid instance met, which stands for
// every valid part of its kind in a policy's skeleton.
package partmemo

import (
	"sync"
	"sync/atomic"
)

// MaxBytes bounds a memo's keys (a hostile input of distinct parts then
// costs validation time, not memory); MaxKey bounds one key.
const (
	MaxBytes = 64 << 20
	MaxKey   = 16 << 10
)

// Memo is safe for concurrent use. The instances it holds are never
// changed: a caller that changes what it validates copies them.
type Memo[T any] struct {
	valid     sync.Map     // key -> struct{}
	bytes     atomic.Int64 // of the keys in valid
	canonical sync.Map     // kind -> *instance[T]
}

type instance[T any] struct {
	key string
	x   T
}

// Known reports whether the part with key was found valid.
func (m *Memo[T]) Known(key string) bool {
	_, ok := m.valid.Load(key)
	return ok
}

// Remember records that the part x (of kind, with key) is valid, and
// offers it as its kind's canonical instance: the smallest key, then the
// lexically first, wins, whatever the order parts are met in.
func (m *Memo[T]) Remember(kind, key string, x T) {
	mine := &instance[T]{key: key, x: x}
	for {
		cur, ok := m.canonical.Load(kind)
		if !ok {
			if _, loaded := m.canonical.LoadOrStore(kind, mine); !loaded {
				break
			}
			continue
		}
		c := cur.(*instance[T])
		if len(key) > len(c.key) || (len(key) == len(c.key) && key >= c.key) {
			break
		}
		if m.canonical.CompareAndSwap(kind, cur, mine) {
			break
		}
	}
	// After the canonical instance: a known key's kind always has one.
	if m.bytes.Load() < MaxBytes {
		if _, loaded := m.valid.LoadOrStore(key, struct{}{}); !loaded {
			m.bytes.Add(int64(len(key)))
		}
	}
}

// Canonical is kind's canonical instance (false: no part of kind is
// known valid).
func (m *Memo[T]) Canonical(kind string) (T, bool) {
	c, ok := m.canonical.Load(kind)
	if !ok {
		var zero T
		return zero, false
	}
	return c.(*instance[T]).x, true
}

// Bytes is the size of the keys remembered.
func (m *Memo[T]) Bytes() int64 { return m.bytes.Load() }
