// Package jsonkey writes decoded JSON values (what encoding/json decodes
// into an any: maps, lists, strings, json.Number, float64, bools, nil) as
// keys for memos: two values get the same key only when they are the
// same value (and, but for strings that are not UTF-8, exactly when
// encoding/json would marshal them to the same bytes), without its
// reflection (a memo keys every element of every policy it sees;
// json.Marshal was a tenth of verify's CPU). A key is not JSON: it is
// only ever compared.
package jsonkey

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
)

// Append appends x's key to dst. ok is false for a value of another type
// (or a float that JSON cannot hold), which has no key.
func Append(dst []byte, x any) (_ []byte, ok bool) {
	switch v := x.(type) {
	case nil:
		return append(dst, "null"...), true
	case bool:
		return strconv.AppendBool(dst, v), true
	case string:
		return strconv.AppendQuote(dst, v), true
	case json.Number:
		// Marshal writes a Number's text as it is.
		return append(dst, v...), true
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return dst, false
		}
		b, err := json.Marshal(v) // its exact text, rare in decoded policies
		if err != nil {
			return dst, false
		}
		return append(dst, b...), true
	case []any:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, ok = Append(dst, e); !ok {
				return dst, false
			}
		}
		return append(dst, ']'), true
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendQuote(dst, k)
			dst = append(dst, ':')
			if dst, ok = Append(dst, v[k]); !ok {
				return dst, false
			}
		}
		return append(dst, '}'), true
	}
	return dst, false
}
