package lower

import (
	"math/rand/v2"
	"testing"
)

// refWindow is the duplicate window as a map and a ring: what window
// must answer.
type refWindow struct {
	n    int
	seen map[fiveTuple]int // ring entry
	ring []fiveTuple
	next int
}

func (r *refWindow) add(k fiveTuple) (int, bool, bool) {
	if e, ok := r.seen[k]; ok {
		return e, true, false
	}
	e, evicted := len(r.ring), false
	if len(r.ring) < r.n {
		r.ring = append(r.ring, k)
	} else {
		e, evicted = r.next, true
		delete(r.seen, r.ring[r.next])
		r.ring[r.next] = k
		r.next = (r.next + 1) % r.n
	}
	r.seen[k] = e
	return e, false, evicted
}

// TestWindowSameAsMap: the window answers as a map and a ring would, for
// windows of many sizes, keys that come back soon and late, and hashes
// that collide (all keys in one home slot, or in a few).
func TestWindowSameAsMap(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 64, 1000} {
		for _, universe := range []int{2, 10, 3 * n, 20 * n} {
			for _, hashes := range []int{0, 1, 3} { // 0: the real hash
				if hashes > 0 && n > 64 {
					continue // colliding keys probe the whole window
				}
				rng := rand.New(rand.NewPCG(uint64(n), uint64(universe)))
				w, ref := newWindow(n), &refWindow{n: n, seen: map[fiveTuple]int{}}
				for op := range 20 * universe {
					var k fiveTuple
					k.sport = uint32(rng.IntN(universe))
					k.proto = 6
					h := w.hash(k)
					if hashes > 0 {
						h = uint32(k.sport%uint32(hashes)) * 7
					}
					e, found, evicted := w.add(k, h)
					we, wfound, wevicted := ref.add(k)
					if e != we || found != wfound || evicted != wevicted {
						t.Fatalf("n %d, universe %d, hashes %d, op %d: key %d: entry %d found %v evicted %v, want %d %v %v", n, universe, hashes, op, k.sport, e, found, evicted, we, wfound, wevicted)
					}
				}
			}
		}
	}
}

func BenchmarkWindow(b *testing.B) {
	w := newWindow(1 << 16)
	keys := make([]fiveTuple, 1<<18)
	hashes := make([]uint32, len(keys))
	for i := range keys {
		keys[i].sport = uint32(i * 7919 % (1 << 17))
		hashes[i] = w.hash(keys[i])
	}
	for i := 0; b.Loop(); i++ {
		j := i & (len(keys) - 1)
		w.add(keys[j], hashes[j])
	}
}
