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

// groupBy implements ppc.group_by in O(n log n).
func groupBy(_ rego.BuiltinContext, a *ast.Term) (*ast.Term, error) {
	arr, ok := a.Value.(*ast.Array)
	if !ok {
		return nil, fmt.Errorf("ppc.group_by: pairs must be an array, got %s", ast.ValueName(a.Value))
	}
	type pair struct{ key, item *ast.Term }
	pairs := make([]pair, 0, arr.Len())
	for i := 0; i < arr.Len(); i++ {
		p, ok := arr.Elem(i).Value.(*ast.Array)
		if !ok || p.Len() != 2 {
			return nil, fmt.Errorf("ppc.group_by: element %d must be a [key, item] pair", i)
		}
		pairs = append(pairs, pair{p.Elem(0), p.Elem(1)})
	}
	slices.SortFunc(pairs, func(x, y pair) int {
		if c := ast.Compare(x.key, y.key); c != 0 {
			return c
		}
		return ast.Compare(x.item, y.item)
	})
	var out []*ast.Term
	for i := 0; i < len(pairs); {
		j := i + 1
		for j < len(pairs) && ast.Compare(pairs[j].key, pairs[i].key) == 0 {
			j++
		}
		items := make([]*ast.Term, 0, j-i)
		for k := i; k < j; k++ {
			if k == i || ast.Compare(pairs[k].item, pairs[k-1].item) != 0 {
				items = append(items, pairs[k].item)
			}
		}
		out = append(out, ast.ArrayTerm(pairs[i].key, ast.ArrayTerm(items...)))
		i = j
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
