package rules

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// evalBuiltin evaluates query (binding x) with ppc's builtins and returns
// x as a Go value.
func evalBuiltin(t *testing.T, query string) (any, error) {
	t.Helper()
	opts := []func(*rego.Rego){rego.Query(query), rego.Capabilities(Capabilities()), rego.StrictBuiltinErrors(true), rego.SetRegoVersion(ast.RegoV1)}
	for _, b := range Builtins() {
		opts = append(opts, b.Register)
	}
	rs, err := rego.New(opts...).Eval(context.Background())
	if err != nil {
		return nil, err
	}
	return rs[0].Bindings["x"], nil
}

// evalGroupBy evaluates ppc.group_by on a Rego literal, its result written
// as Rego.
func evalGroupBy(t *testing.T, arg string) (string, error) {
	t.Helper()
	x, err := evalBuiltin(t, "x := ppc.group_by("+arg+")")
	if err != nil {
		return "", err
	}
	v, err := ast.InterfaceToValue(x)
	if err != nil {
		t.Fatal(err)
	}
	return v.String(), nil
}

func TestGroupBy(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`[]`, `[]`},
		{`[["b", 2], ["a", 1], ["b", 1]]`, `[["a", [1]], ["b", [1, 2]]]`},
		// Duplicate items collapse; keys and items of any type, ordered as
		// sort() orders them.
		{`[["k", 1], ["k", 1], ["k", "x"]]`, `[["k", [1, "x"]]]`},
		{`[[["g", "ingress"], {"a": 1}], [["g", "egress"], 3], [["g", "ingress"], {"a": 0}]]`, `[[["g", "egress"], [3]], [["g", "ingress"], [{"a": 0}, {"a": 1}]]]`},
		{`[[2, "x"], [10, "y"], [1, "z"]]`, `[[1, ["z"]], [2, ["x"]], [10, ["y"]]]`},
	} {
		got, err := evalGroupBy(t, tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ppc.group_by(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestGroupByErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`[["a", 1], ["b"]]`, "element 1 must be a [key, item] pair"},
		{`[["a", 1, 2]]`, "element 0 must be a [key, item] pair"},
	} {
		_, err := evalGroupBy(t, tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ppc.group_by(%s): error %v, want %q", tc.in, err, tc.want)
		}
	}
}

// TestGroupByField: ppc.group_by_field(pairs, f) is ppc.group_by of the
// pairs [key, object[f]]; an item without the field is an error.
func TestGroupByField(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`[]`, `[]`},
		{`[["g", {"id": "b", "port": 1}], ["h", {"id": "a"}], ["g", {"id": "a"}], ["g", {"id": "b", "port": 2}]]`, `[["g", ["a", "b"]], ["h", ["a"]]]`},
		{`[[["g", "x"], {"id": 2}], [["g", "x"], {"id": 1}]]`, `[[["g", "x"], [1, 2]]]`},
	} {
		x, err := evalBuiltin(t, "x := ppc.group_by_field("+tc.in+`, "id")`)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		v, _ := ast.InterfaceToValue(x)
		want, _ := evalGroupBy(t, `[[p[0], p[1].id] | some p in `+tc.in+`]`)
		if v.String() != tc.want || want != tc.want {
			t.Errorf("ppc.group_by_field(%s, \"id\") = %s, ppc.group_by of the fields %s, want %s", tc.in, v, want, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{`[["a", {"id": 1}], ["b", {"name": 2}]], "id"`, "element 1: the item is not an object with the field"},
		{`[["a", 1]], "id"`, "element 0: the item is not an object with the field"},
		{`[["a", {"id": 1}], ["b"]], "id"`, "element 1 must be a [key, item] pair"},
		{`[["a", {"1": 1}]], 1`, "invalid argument(s)"}, // the type checker stops it
	} {
		_, err := evalBuiltin(t, "x := ppc.group_by_field("+tc.in+")")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ppc.group_by_field(%s): error %v, want %q", tc.in, err, tc.want)
		}
	}
}

// TestGroupBySet holds ppc.group_by_set to what it replaces in Rego:
// ppc.group_by of the pairs, then of each member by [group, its items].
func TestGroupBySet(t *testing.T) {
	var scrambled []string
	for i := range 300 {
		scrambled = append(scrambled, fmt.Sprintf(`[[["g%d", "ingress", "endpoints"], {"app": "a%d"}], [%d, "TCP"]]`, i%7, i%11, 8000+(i*i)%5))
	}
	for _, tc := range []struct{ in, want string }{
		{`[]`, `[]`},
		// b and c have the same items, a others; in h, a alone.
		{`[[["g", "a"], 1], [["g", "b"], 2], [["g", "c"], 2], [["g", "b"], 1], [["g", "c"], 1], [["h", "a"], 1], [["g", "b"], 2]]`,
			`[[["g", [1]], ["a"]], [["g", [1, 2]], ["b", "c"]], [["h", [1]], ["a"]]]`},
		{"[" + strings.Join(scrambled, ", ") + "]", ""},
	} {
		x, err := evalBuiltin(t, "x := ppc.group_by_set("+tc.in+")")
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		got, _ := ast.InterfaceToValue(x)
		y, err := evalBuiltin(t, `x := ppc.group_by([[[k[0], ts], k[1]] | some [k, ts] in ppc.group_by(`+tc.in+`)])`)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := ast.InterfaceToValue(y)
		if got.Compare(want) != 0 || (tc.want != "" && got.String() != tc.want) {
			t.Errorf("ppc.group_by_set(%.80s…) = %.200s, by ppc.group_by twice %.200s, want %s", tc.in, got, want, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{`[[["g", "a"], 1], ["g"]]`, "element 1 must be a [[group, member], item] pair"},
		{`[[["g", "a", "b"], 1]]`, "element 0: the key must be a [group, member] pair"},
		{`[["g", 1]]`, "element 0: the key must be a [group, member] pair"},
	} {
		_, err := evalBuiltin(t, "x := ppc.group_by_set("+tc.in+")")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ppc.group_by_set(%s): error %v, want %q", tc.in, err, tc.want)
		}
	}
}

// TestPairsBy holds ppc.pairs_by to the comprehension it replaces,
// [[t[x[f]], x] | some x in xs], on arrays, sets and objects with
// elements the table does not hold, that lack the field or are not
// objects.
func TestPairsBy(t *testing.T) {
	const table = `{"a": "ga", "b": ["gb", 1], 1: "one"}`
	for _, xs := range []string{
		`[]`,
		`[{"dst": "a", "id": 1}, {"dst": "z", "id": 2}, {"dst": "b", "id": 3}, {"id": 4}, 5, {"dst": 1}, {"dst": "a", "id": 1}]`,
		`{{"dst": "b"}, {"dst": "a", "n": 1}, {"dst": "a", "n": 0}, "x"}`,
		`{"e2": {"dst": "b", "id": "e2"}, "e1": {"dst": "a", "id": "e1"}, "e3": {"dst": "q", "id": "e3"}}`,
	} {
		got, err := evalBuiltin(t, `x := ppc.pairs_by(`+xs+`, "dst", `+table+`)`)
		if err != nil {
			t.Errorf("%s: %v", xs, err)
			continue
		}
		want, err := evalBuiltin(t, `t := `+table+`
			x := [[t[v["dst"]], v] | some v in `+xs+`]`)
		if err != nil {
			t.Fatal(err)
		}
		g, _ := ast.InterfaceToValue(got)
		w, _ := ast.InterfaceToValue(want)
		if g.Compare(w) != 0 {
			t.Errorf("ppc.pairs_by(%s) = %s, the comprehension %s", xs, g, w)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{`"ab", "dst", {}`, "invalid argument(s)"}, // the type checker stops it
		{`[], 1, {}`, "invalid argument(s)"},
		{`[], "dst", []`, "invalid argument(s)"},
	} {
		_, err := evalBuiltin(t, "x := ppc.pairs_by("+tc.in+")")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ppc.pairs_by(%s): error %v, want %q", tc.in, err, tc.want)
		}
	}
}

// TestGroupByMatchesRego holds the builtin to the plain-Rego definition
// it replaces: sort the pairs, one group per distinct key, distinct items.
func TestGroupByMatchesRego(t *testing.T) {
	for _, in := range []string{
		`[[3, "c"], [1, "b"], [3, "a"], [2, "x"], [1, "b"], [[1], "n"], ["s", {"o": 1}]]`,
		groupByInput(400),
	} {
		t.Run(strconv.Itoa(len(in)), func(t *testing.T) { groupByMatchesRego(t, in) })
	}
}

// groupByInput is n pairs whose keys (strings, numbers, arrays, objects,
// sets) and items repeat, in a scrambled order.
func groupByInput(n int) string {
	keys := []string{`"a"`, `"b"`, `1`, `2.5`, `["g", "ingress"]`, `["g", "egress"]`, `{"app": "x"}`, `{"app": "y", "k": 1}`, `{"s", 1}`, `null`, `true`, `[["g", "ingress", ["endpoints", {"matchLabels": {"app": "x"}}]]]`}
	items := []string{`[8080, "TCP"]`, `[53, "UDP"]`, `"e1"`, `"e2"`, `{"matchLabels": {"app": "z"}}`, `0`}
	ps := make([]string, n)
	for i := range ps {
		ps[i] = fmt.Sprintf("[%s, %s]", keys[(i*7)%len(keys)], items[(i*i+3)%len(items)])
	}
	return "[" + strings.Join(ps, ", ") + "]"
}

func groupByMatchesRego(t *testing.T, in string) {
	q := `ks := sort({p[0] | some p in pairs})
	x := [[k, sort({p[1] | some p in pairs; p[0] == k})] | some k in ks]`
	opts := []func(*rego.Rego){rego.Query("pairs := " + in + "\n" + q), rego.SetRegoVersion(ast.RegoV1)}
	rs, err := rego.New(opts...).Eval(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v, _ := ast.InterfaceToValue(rs[0].Bindings["x"])
	got, err := evalGroupBy(t, in)
	if err != nil {
		t.Fatal(err)
	}
	if got != v.String() {
		t.Fatalf("ppc.group_by = %s, plain Rego = %s", got, v)
	}
}

func TestCoveringPrefix(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"198.51.100.3/32", "198.51.100.200/32"}`, "198.51.100.0/24"},
		{`["198.51.100.64/32", "198.51.100.127/32"]`, "198.51.100.64/26"},
		{`{"198.51.100.7/32"}`, "198.51.100.7/32"},
		{`{"198.51.100.7"}`, "198.51.100.7/32"},                                       // a bare address is a host prefix
		{`{"10.1.0.0/16", "10.1.200.9/32"}`, "10.1.0.0/16"},                           // never longer than an input prefix
		{`{"10.0.0.1/32", "10.0.0.1/32", "10.0.0.0/31"}`, "10.0.0.0/31"},              // repeats
		{`{"0.0.0.0/32", "255.255.255.255/32"}`, "0.0.0.0/0"},                         // nothing shared
		{`{"2001:db8::1/128", "2001:db8::ff/128"}`, "2001:db8::/120"},                 // IPv6
		{`{"2001:db8:0:1::5", "2001:db8:0:2::5/128"}`, "2001:db8::/62"},               // IPv6, bare
		{`{"::ffff:198.51.100.1/128", "::ffff:198.51.100.2/128"}`, "198.51.100.0/30"}, // IPv4-mapped: written as net.cidr_merge writes it
	} {
		got, err := evalBuiltin(t, "x := ppc.covering_prefix("+tc.in+")")
		if err != nil || got != tc.want {
			t.Errorf("ppc.covering_prefix(%s) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestCoveringPrefixErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"10.0.0.1/32", "2001:db8::1/128"}`, "different families"},
		{`{"198.51.100.1", "::ffff:198.51.100.2"}`, "different families"},
		{`set()`, "no prefix given"},
		{`[]`, "no prefix given"},
		{`{"10.0.0.1/33"}`, "not an IP address or CIDR prefix"},
		{`{"db.example.com"}`, "not an IP address or CIDR prefix"},
		{`{1}`, "invalid argument"}, // the type checker's
	} {
		_, err := evalBuiltin(t, "x := ppc.covering_prefix("+tc.in+")")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ppc.covering_prefix(%s): error %v, want %q", tc.in, err, tc.want)
		}
	}
	// Past the type checker (a value built at run time), the builtin's own.
	if _, err := coveringPrefix(rego.BuiltinContext{}, ast.ArrayTerm(ast.NumberTerm("1"))); err == nil || !strings.Contains(err.Error(), "must hold strings") {
		t.Errorf("a number: error %v, want %q", err, "must hold strings")
	}
}

// TestCoveringPrefixIsSmallest: on sets of addresses drawn from a few
// prefixes, the result holds every address, and the prefix one bit longer
// that holds the first address does not hold them all (the definition the
// pack's prefix chains computed: the first prefix every chain shares).
func TestCoveringPrefixIsSmallest(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		var addrs []string
		v6 := i%3 == 0
		for j := 0; j < 1+rnd.IntN(6); j++ {
			if v6 {
				addrs = append(addrs, fmt.Sprintf("2001:db8:%x::%x/128", rnd.IntN(4), rnd.IntN(1<<16)))
			} else {
				addrs = append(addrs, fmt.Sprintf("203.0.%d.%d/32", 112+rnd.IntN(4), rnd.IntN(256)))
			}
		}
		got, err := coveringPrefix(rego.BuiltinContext{}, ast.ArrayTerm(stringTerms(addrs)...))
		if err != nil {
			t.Fatal(err)
		}
		p := netip.MustParsePrefix(string(got.Value.(ast.String)))
		if p != p.Masked() {
			t.Fatalf("%v: %s is not a network prefix", addrs, p)
		}
		first := netip.MustParsePrefix(addrs[0]).Addr()
		longer := netip.PrefixFrom(first, p.Bits()+1).Masked()
		allLonger := p.Bits() < first.BitLen()
		for _, a := range addrs {
			ad := netip.MustParsePrefix(a).Addr()
			if !p.Contains(ad) {
				t.Fatalf("%v: %s does not hold %s", addrs, p, a)
			}
			allLonger = allLonger && longer.Contains(ad)
		}
		if allLonger {
			t.Fatalf("%v: %s holds them all, yet the result is %s", addrs, longer, p)
		}
	}
}

func stringTerms(ss []string) []*ast.Term {
	ts := make([]*ast.Term, len(ss))
	for i, s := range ss {
		ts[i] = ast.StringTerm(s)
	}
	return ts
}

// FuzzCoveringPrefix: any strings give a prefix holding each of them, or
// an error; never a panic.
func FuzzCoveringPrefix(f *testing.F) {
	f.Add("198.51.100.3/32", "198.51.100.200/32")
	f.Add("2001:db8::1", "2001:db8::ff/128")
	f.Add("::ffff:1.2.3.4/128", "1.2.3.4")
	f.Add("10.0.0.0/8", "x")
	f.Fuzz(func(t *testing.T, a, b string) {
		got, err := coveringPrefix(rego.BuiltinContext{}, ast.SetTerm(ast.StringTerm(a), ast.StringTerm(b)))
		if err != nil {
			return
		}
		_, p, perr := net.ParseCIDR(string(got.Value.(ast.String)))
		if perr != nil {
			t.Fatalf("result %s: %v", got, perr)
		}
		for _, s := range []string{a, b} {
			n, err := parsePrefix(s)
			if err != nil {
				t.Fatalf("%q accepted, then not parsed: %v", s, err)
			}
			if !p.Contains(n.IP) {
				t.Fatalf("%s does not hold %s", p, s)
			}
		}
	})
}
