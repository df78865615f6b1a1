package ir

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// Counts counts an edge's connections by key (by verdict, by the kind of
// evidence that decided their direction): a few entries, sorted by key,
// written in JSON as an object ({"FORWARDED": 3}), byte for byte as a
// map[string]int64 would be. Every edge holds two; as Go maps they were
// half of an edge's memory (~600 of 1,400 bytes), as sorted slices they
// take ~50, and the keys every edge repeats are interned.
type Counts []Count

// Count is one key's count.
type Count struct {
	Key string
	N   int64
}

// CountsOf returns m's counts, sorted by key.
func CountsOf(m map[string]int64) Counts {
	if m == nil {
		return nil
	}
	c := make(Counts, 0, len(m))
	for k, n := range m {
		c = append(c, Count{internKey(k), n})
	}
	slices.SortFunc(c, func(a, b Count) int { return strings.Compare(a.Key, b.Key) })
	return c
}

// Get returns key's count (0 when absent).
func (c Counts) Get(key string) int64 {
	for _, x := range c {
		if x.Key == key {
			return x.N
		}
	}
	return 0
}

// Add adds n to key's count (a new key is inserted in order, even with
// n 0, as a map's += would).
func (c *Counts) Add(key string, n int64) {
	s := *c
	i := 0
	for i < len(s) && s[i].Key < key {
		i++
	}
	if i < len(s) && s[i].Key == key {
		s[i].N += n
		return
	}
	*c = slices.Insert(s, i, Count{internKey(key), n})
}

// Total is the sum of the counts.
func (c Counts) Total() int64 {
	var n int64
	for _, x := range c {
		n += x.N
	}
	return n
}

// Map returns the counts as a map.
func (c Counts) Map() map[string]int64 {
	if c == nil {
		return nil
	}
	m := make(map[string]int64, len(c))
	for _, x := range c {
		m[x.Key] = x.N
	}
	return m
}

// MarshalJSON writes the counts as an object, keys in order (null for
// nil Counts, as for a nil map).
func (c Counts) MarshalJSON() ([]byte, error) {
	if c == nil {
		return []byte("null"), nil
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, x := range c {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(x.Key)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(x.N, 10))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads an object of counts (or null) as encoding/json
// reads it into a map[string]int64: a repeated key keeps its last count.
func (c *Counts) UnmarshalJSON(b []byte) error {
	var m map[string]int64
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*c = CountsOf(m)
	return nil
}

// EdgeVocabulary are the strings every edge repeats: verdicts, the kinds
// of direction evidence and the protocols. The IR keeps one copy of each,
// and the rule packs' input interns them (rules).
var EdgeVocabulary = []string{
	"FORWARDED", "DROPPED", "ERROR", "AUDIT", "REDIRECTED", "TRACED", "TRANSLATED", "VERDICT_UNKNOWN",
	ByIsReply, ByReverseTuple, ByTCPFlags, ByL7, ByICMPType, ByListeningPort, ByWellKnownPort, DirectionUnknown,
	"TCP", "UDP", "SCTP", "ICMPv4", "ICMPv6",
}

var internedKeys = func() map[string]string {
	m := make(map[string]string, len(EdgeVocabulary))
	for _, k := range EdgeVocabulary {
		m[k] = k
	}
	return m
}()

func internKey(k string) string {
	if s, ok := internedKeys[k]; ok {
		return s
	}
	return k
}
