package ir_test

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/policypilot/ppc/ir"
)

// TestCountsJSONAsMap: Counts read and write the JSON a map[string]int64
// does, byte for byte (keys in order, HTML-escaped, null for nil).
func TestCountsJSONAsMap(t *testing.T) {
	maps := []map[string]int64{
		nil,
		{},
		{"FORWARDED": 3},
		{"FORWARDED": 3, "DROPPED": 1, "AUDIT": 0},
		{"<b>&\"x\"": -2, "é": 1 << 40, "\u2028": 7},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		m := map[string]int64{}
		for range r.IntN(6) {
			m[string(rune('A'+r.IntN(8)))+string(rune('a'+r.IntN(3)))] = r.Int64N(1000) - 10
		}
		maps = append(maps, m)
	}
	for _, m := range maps {
		want, _ := json.Marshal(m)
		got, err := json.Marshal(ir.CountsOf(m))
		if err != nil || string(got) != string(want) {
			t.Fatalf("%v: wrote %s (%v), a map writes %s", m, got, err, want)
		}
		var back ir.Counts
		if err := json.Unmarshal(want, &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back.Map(), m) {
			t.Fatalf("%s read back as %v", want, back)
		}
	}
	var c ir.Counts
	if err := json.Unmarshal([]byte(`{"a": 1, "a": 2}`), &c); err != nil || c.Get("a") != 2 || len(c) != 1 {
		t.Errorf("a repeated key: %v %v, want the last count as a map keeps it", c, err)
	}
	if err := json.Unmarshal([]byte(`{"a": 1.5}`), &c); err == nil {
		t.Error("a fractional count was accepted")
	}
}

// TestCountsAdd: Add keeps the keys sorted whatever the order they come
// in, sums repeated keys, and Get and Total read them.
func TestCountsAdd(t *testing.T) {
	var c ir.Counts
	for _, k := range []string{"TRACED", "AUDIT", "FORWARDED", "AUDIT", "DROPPED", "FORWARDED", "FORWARDED"} {
		c.Add(k, 1)
	}
	c.Add("ERROR", 0)
	want := ir.Counts{{Key: "AUDIT", N: 2}, {Key: "DROPPED", N: 1}, {Key: "ERROR", N: 0}, {Key: "FORWARDED", N: 3}, {Key: "TRACED", N: 1}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %v, want %v", c, want)
	}
	if c.Get("FORWARDED") != 3 || c.Get("nope") != 0 || c.Total() != 7 {
		t.Errorf("Get/Total: %d %d %d", c.Get("FORWARDED"), c.Get("nope"), c.Total())
	}
}
