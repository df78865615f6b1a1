package rules

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// evalGroupBy evaluates ppc.group_by on a Rego literal.
func evalGroupBy(t *testing.T, arg string) (string, error) {
	t.Helper()
	opts := []func(*rego.Rego){rego.Query("x := ppc.group_by(" + arg + ")"), rego.Capabilities(Capabilities()), rego.StrictBuiltinErrors(true), rego.SetRegoVersion(ast.RegoV1)}
	for _, b := range Builtins() {
		opts = append(opts, b.Register)
	}
	rs, err := rego.New(opts...).Eval(context.Background())
	if err != nil {
		return "", err
	}
	v, err := ast.InterfaceToValue(rs[0].Bindings["x"])
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
