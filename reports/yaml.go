package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	yamlv2 "go.yaml.in/yaml/v2"
	"sigs.k8s.io/yaml"

	"github.com/policypilot/ppc/compiler"
)

// Doc is one policy document the compiler produced (compiler.Doc): its
// cluster, namespace and name, and the JSON bytes that were verified. The
// YAML written is derived from exactly these bytes.
type Doc = compiler.Doc

// YAML renders one document. Keys are sorted and every string that YAML
// could misread (labels, DNS names, anything from the cluster) is quoted by
// the encoder.
func YAML(d Doc) ([]byte, error) {
	if b, ok := fastYAML(d.JSON); ok {
		return b, nil
	}
	b, err := yaml.JSONToYAML(d.JSON)
	if err != nil {
		return nil, fmt.Errorf("render %s/%s: %w", d.Namespace, d.Name, err)
	}
	return b, nil
}

// fastYAML renders JSON as sigs.k8s.io/yaml's JSONToYAML does, byte for
// byte, in about a quarter less time (BenchmarkYAML; yaml.v2's
// encoder is the rest), and in one key order where JSONToYAML's depends
// on Go's map order (see yamlKeyLess). JSONToYAML reads the JSON with the
// YAML parser (to get integers rather than float64s), then encodes the
// value with yaml.v2; here encoding/json's tokens are read, in one pass,
// into the values that parser gives (yamlValue) and the same yaml.v2
// encodes them. ok is
// false for a document it does not vouch for (JSON that is not compact, a
// number that is not an integer of 64 bits, a duplicate key, invalid
// UTF-8, a character YAML refuses or a \uD800-\uDFFF escape, anything
// encoding/json rejects): then JSONToYAML renders it or says what is
// wrong. TestFastYAML and FuzzFastYAML hold the two equal. (Documents
// come from json.Marshal: compact, valid UTF-8, each key once.)
func fastYAML(j []byte) (b []byte, ok bool) {
	if !yamlReadable(j) || bytes.Contains(j, []byte(`\ud`)) || bytes.Contains(j, []byte(`\uD`)) {
		return nil, false // the YAML parser refuses these characters and surrogate escapes
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	v, ok := yamlValue(dec)
	if !ok {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false // more than one value
	}
	b, err := yamlv2.Marshal(v)
	return b, err == nil
}

// yamlReadable reports whether j is compact (no whitespace outside
// strings, as json.Marshal writes it: YAML reads JSON's whitespace
// differently, tabs above all) and the YAML parser reads its characters:
// valid UTF-8, and only the characters YAML allows in a stream (printable
// ASCII, NEL and the rest of Unicode but for C1 controls, surrogates,
// U+FFFE and U+FFFF).
func yamlReadable(j []byte) bool {
	inString, escaped := false, false
	for i := 0; i < len(j); {
		c := j[i]
		if c < utf8.RuneSelf {
			switch {
			case c < 0x20 || c == 0x7f:
				return false
			case escaped:
				escaped = false
			case c == '\\':
				escaped = inString
			case c == '"':
				inString = !inString
			case c == ' ' && !inString:
				return false
			}
			i++
			continue
		}
		escaped = false
		r, n := utf8.DecodeRune(j[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			return false
		case r < 0xA0 && r != 0x85, r == 0xFFFE, r == 0xFFFF:
			return false
		}
		i += n
	}
	return true
}

// yamlValue reads the next JSON value from dec (with UseNumber) as the
// value the YAML parser gives for it: integers as int, objects as
// mappings whose keys are in yaml.v2's order (see yamlKeyLess). ok is
// false for anything else: another number, a key twice in an object
// (encoding/json would keep the last; the YAML parser refuses), JSON
// encoding/json rejects.
func yamlValue(dec *json.Decoder) (v any, ok bool) {
	t, err := dec.Token()
	if err != nil {
		return nil, false
	}
	switch x := t.(type) {
	case json.Number:
		n, err := strconv.ParseInt(string(x), 10, 64)
		if err != nil || strconv.FormatInt(n, 10) != string(x) {
			return nil, false
		}
		return int(n), true
	case json.Delim:
		switch x {
		case '{':
			m := map[string]any{}
			for dec.More() {
				kt, err := dec.Token()
				k, isKey := kt.(string)
				if err != nil || !isKey {
					return nil, false
				}
				if _, dup := m[k]; dup {
					return nil, false
				}
				if m[k], ok = yamlValue(dec); !ok {
					return nil, false
				}
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, false
			}
			keys := slices.Sorted(maps.Keys(m))
			sort.SliceStable(keys, func(i, j int) bool { return yamlKeyLess(keys[i], keys[j]) })
			ms := make(yamlv2.MapSlice, len(keys))
			for i, k := range keys {
				ms[i] = yamlv2.MapItem{Key: k, Value: m[k]}
			}
			return ms, true
		case '[':
			xs := []any{}
			for dec.More() {
				e, ok := yamlValue(dec)
				if !ok {
					return nil, false
				}
				xs = append(xs, e)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, false
			}
			return xs, true
		}
		return nil, false
	}
	return t, true // string, bool or nil
}

// yamlKeyLess is the order yaml.v2 encodes a map's string keys in: letters
// before other characters, runs of digits compared as numbers. That
// order is not transitive for some keys with digits ("087", "29", "8A"),
// and yaml.v2 sorts a Go map's keys in the map's random order, so the
// same document could come out in different orders; here the keys are
// sorted byte-wise first and then stably by this order, which gives one
// output, yaml.v2's whenever its order is well defined.
func yamlKeyLess(a, b string) bool {
	ar, br := []rune(a), []rune(b)
	for i := 0; i < len(ar) && i < len(br); i++ {
		if ar[i] == br[i] {
			continue
		}
		al, bl := unicode.IsLetter(ar[i]), unicode.IsLetter(br[i])
		if al && bl {
			return ar[i] < br[i]
		}
		if al || bl {
			return bl
		}
		var ai, bi int
		var an, bn int64
		if ar[i] == '0' || br[i] == '0' {
			for j := i - 1; j >= 0 && unicode.IsDigit(ar[j]); j-- {
				if ar[j] != '0' {
					an, bn = 1, 1
					break
				}
			}
		}
		for ai = i; ai < len(ar) && unicode.IsDigit(ar[ai]); ai++ {
			an = an*10 + int64(ar[ai]-'0')
		}
		for bi = i; bi < len(br) && unicode.IsDigit(br[bi]); bi++ {
			bn = bn*10 + int64(br[bi]-'0')
		}
		if an != bn {
			return an < bn
		}
		if ai != bi {
			return ai < bi
		}
		return ar[i] < br[i]
	}
	return len(ar) < len(br)
}

// Stream renders the documents as one multi-document YAML stream.
func Stream(docs []Doc) ([]byte, error) {
	var buf bytes.Buffer
	for i, d := range docs {
		b, err := YAML(d)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

// safeSegment rejects names that would escape the output directory. Names
// are DNS subdomains once verified; this guards the file system even so.
func safeSegment(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`+"\x00")
}
