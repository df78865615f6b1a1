package rules

import (
	"fmt"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/types"
)

// Builtin is a function ppc adds to Rego for rule packs: its declaration
// (for the compiler's capabilities) and the option that registers its
// implementation with an evaluation.
type Builtin struct {
	Decl     *ast.Builtin
	Register func(*rego.Rego)
}

// groupByDecl declares ppc.group_by. Rego has no group-by: written in
// Rego it costs several expressions per element even when done by
// sorting (see lib.groups), and a comprehension per key is quadratic.
var groupByDecl = &ast.Builtin{
	Name: "ppc.group_by",
	Description: "Groups [key, item] pairs by key: returns [[key, [item, ...]], ...] with keys in ascending order " +
		"and each key's distinct items in ascending order, as sort() orders values.",
	Decl: types.NewFunction(
		types.Args(types.Named("pairs", types.NewArray(nil, types.NewArray(nil, types.A))).Description("[key, item] pairs")),
		types.Named("groups", types.NewArray(nil, types.NewArray(nil, types.A))).Description("[key, [item, ...]] per distinct key"),
	),
}

// groupBy implements ppc.group_by in O(n log n). The pairs are bucketed
// by key first (the key's hash, then equality), so that only the distinct
// keys are sorted, and each key's items among themselves: comparing OPA's
// values is most of the cost, and many pairs share a key (a section's
// rules, a policy's edges).
func groupBy(_ rego.BuiltinContext, a *ast.Term) (*ast.Term, error) {
	arr, ok := a.Value.(*ast.Array)
	if !ok {
		return nil, fmt.Errorf("ppc.group_by: pairs must be an array, got %s", ast.ValueName(a.Value))
	}
	// A group's first item is held apart: most groups have one.
	type group struct {
		key, first *ast.Term
		more       []*ast.Term
		next       int // the next group of the same hash, plus one (0: none)
	}
	groups := make([]group, 0, arr.Len())
	head := make(map[int]int, arr.Len()) // a hash's first group, plus one
	for i := 0; i < arr.Len(); i++ {
		p, ok := arr.Elem(i).Value.(*ast.Array)
		if !ok || p.Len() != 2 {
			return nil, fmt.Errorf("ppc.group_by: element %d must be a [key, item] pair", i)
		}
		key, item := p.Elem(0), p.Elem(1)
		h := key.Hash()
		j := head[h]
		for j > 0 && ast.Compare(groups[j-1].key, key) != 0 {
			j = groups[j-1].next
		}
		if j > 0 {
			groups[j-1].more = append(groups[j-1].more, item)
			continue
		}
		groups = append(groups, group{key: key, first: item, next: head[h]})
		head[h] = len(groups)
	}
	slices.SortFunc(groups, func(x, y group) int { return ast.Compare(x.key, y.key) })
	out := make([]*ast.Term, len(groups))
	for i, gr := range groups {
		items := []*ast.Term{gr.first}
		if len(gr.more) > 0 {
			items = append(items, gr.more...)
			slices.SortFunc(items, func(x, y *ast.Term) int { return ast.Compare(x, y) })
			items = slices.CompactFunc(items, func(x, y *ast.Term) bool { return ast.Compare(x, y) == 0 })
		}
		out[i] = ast.ArrayTerm(gr.key, ast.ArrayTerm(items...))
	}
	return ast.ArrayTerm(out...), nil
}

// Builtins are the functions ppc adds to Rego. Capabilities declares
// them; every evaluation of packs (compile, lint, tests) registers them.
func Builtins() []Builtin {
	return []Builtin{{
		Decl:     groupByDecl,
		Register: rego.Function1(&rego.Function{Name: groupByDecl.Name, Decl: groupByDecl.Decl}, groupBy),
	}}
}
