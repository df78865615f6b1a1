package rules

import (
	"fmt"
	"math/bits"
	"net"
	"slices"
	"strings"

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

// groupByFieldDecl declares ppc.group_by_field: ppc.group_by of the
// pairs [key, item[field]], without the pass in Rego that builds them
// (a pass over a policy side's edges for their IDs cost a twentieth of a
// decision).
var groupByFieldDecl = &ast.Builtin{
	Name: "ppc.group_by_field",
	Description: "Groups [key, object] pairs by key, collecting each object's field: returns [[key, [value, ...]], ...] " +
		"as ppc.group_by returns for the pairs [key, object[field]]; a pair whose object lacks the field is an error.",
	Decl: types.NewFunction(
		types.Args(
			types.Named("pairs", types.NewArray(nil, types.NewArray(nil, types.A))).Description("[key, object] pairs"),
			types.Named("field", types.S).Description("the key of the objects' value to collect"),
		),
		types.Named("groups", types.NewArray(nil, types.NewArray(nil, types.A))).Description("[key, [value, ...]] per distinct key"),
	),
}

// groupBy implements ppc.group_by.
func groupBy(_ rego.BuiltinContext, a *ast.Term) (*ast.Term, error) {
	return group("ppc.group_by", a, nil)
}

// groupByField implements ppc.group_by_field.
func groupByField(_ rego.BuiltinContext, a, f *ast.Term) (*ast.Term, error) {
	if _, ok := f.Value.(ast.String); !ok {
		return nil, fmt.Errorf("ppc.group_by_field: field must be a string, got %s", ast.ValueName(f.Value))
	}
	return group("ppc.group_by_field", a, f)
}

// group groups the pairs of a by key (the items' field when field is not
// nil): ppc.group_by and ppc.group_by_field.
func group(name string, a, field *ast.Term) (*ast.Term, error) {
	g := newGrouper(pairCount(a))
	err := eachPair(name, a, "a [key, item] pair", func(i int, key, item *ast.Term) error {
		if field != nil {
			o, ok := item.Value.(ast.Object)
			if item = nil; ok {
				item = o.Get(field)
			}
			if item == nil {
				return fmt.Errorf("%s: element %d: the item is not an object with the field %v", name, i, field)
			}
		}
		g.add(key, item)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return g.result(), nil
}

// pairCount is how many pairs a holds, if it is an array.
func pairCount(a *ast.Term) int {
	if arr, ok := a.Value.(*ast.Array); ok {
		return arr.Len()
	}
	return 0
}

// eachPair calls f with each [key, item] pair of the array a, the error
// naming the builtin and what a pair must be (want) for anything else.
func eachPair(name string, a *ast.Term, want string, f func(i int, key, item *ast.Term) error) error {
	arr, ok := a.Value.(*ast.Array)
	if !ok {
		return fmt.Errorf("%s: pairs must be an array, got %s", name, ast.ValueName(a.Value))
	}
	for i := 0; i < arr.Len(); i++ {
		p, ok := arr.Elem(i).Value.(*ast.Array)
		if !ok || p.Len() != 2 {
			return fmt.Errorf("%s: element %d must be %s", name, i, want)
		}
		if err := f(i, p.Elem(0), p.Elem(1)); err != nil {
			return err
		}
	}
	return nil
}

// grouper groups [key, item] pairs in O(n log n). The pairs are bucketed
// by key first (the key's hash, then equality), so that only the distinct
// keys are sorted, and each key's items among themselves: comparing OPA's
// values is most of the cost, and many pairs share a key (a section's
// rules, a policy's edges).
type grouper struct {
	groups []keyGroup
	head   map[int]int // a hash's first group, plus one
}

// keyGroup is a key's items; the first is held apart (most groups have
// one).
type keyGroup struct {
	key, first *ast.Term
	more       []*ast.Term
	next       int // the next group of the same hash, plus one (0: none)
}

// newGrouper returns a grouper sized for about n pairs.
func newGrouper(n int) *grouper {
	return &grouper{groups: make([]keyGroup, 0, n), head: make(map[int]int, n)}
}

func (g *grouper) add(key, item *ast.Term) {
	h := key.Hash()
	j := g.head[h]
	for j > 0 && ast.Compare(g.groups[j-1].key, key) != 0 {
		j = g.groups[j-1].next
	}
	if j > 0 {
		g.groups[j-1].more = append(g.groups[j-1].more, item)
		return
	}
	g.groups = append(g.groups, keyGroup{key: key, first: item, next: g.head[h]})
	g.head[h] = len(g.groups)
}

// result is the groups as ppc.group_by returns them: [[key, [item, ...]],
// ...], keys and each key's distinct items in ascending order.
func (g *grouper) result() *ast.Term {
	slices.SortFunc(g.groups, func(x, y keyGroup) int { return ast.Compare(x.key, y.key) })
	out := make([]*ast.Term, len(g.groups))
	for i := range g.groups {
		out[i] = ast.ArrayTerm(g.groups[i].key, ast.ArrayTerm(g.items(i)...))
	}
	return ast.ArrayTerm(out...)
}

// items are group i's distinct items in ascending order.
func (g *grouper) items(i int) []*ast.Term {
	gr := g.groups[i]
	items := []*ast.Term{gr.first}
	if len(gr.more) > 0 {
		items = append(items, gr.more...)
		slices.SortFunc(items, func(x, y *ast.Term) int { return ast.Compare(x, y) })
		items = slices.CompactFunc(items, func(x, y *ast.Term) bool { return ast.Compare(x, y) == 0 })
	}
	return items
}

// groupBySetDecl declares ppc.group_by_set: which members of a group have
// exactly the same set of items (a section's peers allowed exactly the
// same ports share a rule). In Rego it is ppc.group_by twice with a
// comprehension between them that rebuilds every key.
var groupBySetDecl = &ast.Builtin{
	Name: "ppc.group_by_set",
	Description: "Groups [[group, member], item] pairs by group and by the set of items of each member: returns " +
		"[[[group, [item, ...]], [member, ...]], ...], the members of a group that have exactly those items, " +
		"ordered as ppc.group_by orders its keys and items.",
	Decl: types.NewFunction(
		types.Args(types.Named("pairs", types.NewArray(nil, types.NewArray(nil, types.A))).Description("[[group, member], item] pairs")),
		types.Named("groups", types.NewArray(nil, types.NewArray(nil, types.A))).Description("[[group, items], members] per group and item set"),
	),
}

// groupBySet implements ppc.group_by_set: the pairs grouped by [group,
// member] (not sorted: only grouped), then each member by [group, its
// items].
func groupBySet(_ rego.BuiltinContext, a *ast.Term) (*ast.Term, error) {
	const name = "ppc.group_by_set"
	members := newGrouper(pairCount(a))
	err := eachPair(name, a, "a [[group, member], item] pair", func(i int, key, item *ast.Term) error {
		if k, ok := key.Value.(*ast.Array); !ok || k.Len() != 2 {
			return fmt.Errorf("%s: element %d: the key must be a [group, member] pair", name, i)
		}
		members.add(key, item)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sets := newGrouper(len(members.groups))
	for i := range members.groups {
		k := members.groups[i].key.Value.(*ast.Array)
		sets.add(ast.ArrayTerm(k.Elem(0), ast.ArrayTerm(members.items(i)...)), k.Elem(1))
	}
	return sets.result(), nil
}

// pairsByDecl declares ppc.pairs_by: a join of a collection with a table
// on one field, the pass that gives each policy side its edges
// ([group, edge] for the group at the edge's destination or source). In
// Rego it is a comprehension of three expressions an element.
var pairsByDecl = &ast.Builtin{
	Name: "ppc.pairs_by",
	Description: "Pairs each element x of xs (an array, a set, or an object's values) with table[x[field]]: returns " +
		"[[table[x[field]], x], ...] in the order xs iterates in, leaving out the elements that lack the field or whose " +
		"value the table does not hold.",
	Decl: types.NewFunction(
		types.Args(
			types.Named("xs", types.NewAny(types.NewArray(nil, types.A), types.NewSet(types.A), types.NewObject(nil, types.NewDynamicProperty(types.A, types.A)))).Description("the objects to pair"),
			types.Named("field", types.S).Description("the key of the objects' value to look up"),
			types.Named("table", types.NewObject(nil, types.NewDynamicProperty(types.A, types.A))).Description("what each value pairs with"),
		),
		types.Named("pairs", types.NewArray(nil, types.NewArray(nil, types.A))).Description("[table[x[field]], x] per element held"),
	),
}

// pairsBy implements ppc.pairs_by.
func pairsBy(_ rego.BuiltinContext, xs, field, table *ast.Term) (*ast.Term, error) {
	if _, ok := field.Value.(ast.String); !ok {
		return nil, fmt.Errorf("ppc.pairs_by: field must be a string, got %s", ast.ValueName(field.Value))
	}
	t, ok := table.Value.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("ppc.pairs_by: table must be an object, got %s", ast.ValueName(table.Value))
	}
	var out []*ast.Term
	add := func(x *ast.Term) {
		o, ok := x.Value.(ast.Object)
		if !ok {
			return
		}
		if k := o.Get(field); k != nil {
			if v := t.Get(k); v != nil {
				out = append(out, ast.ArrayTerm(v, x))
			}
		}
	}
	switch v := xs.Value.(type) {
	case *ast.Array:
		out = make([]*ast.Term, 0, v.Len())
		v.Foreach(add)
	case ast.Set:
		out = make([]*ast.Term, 0, v.Len())
		v.Foreach(add)
	case ast.Object:
		out = make([]*ast.Term, 0, v.Len())
		v.Foreach(func(_, x *ast.Term) { add(x) })
	default:
		return nil, fmt.Errorf("ppc.pairs_by: xs must be an array, a set or an object, got %s", ast.ValueName(xs.Value))
	}
	return ast.ArrayTerm(out...), nil
}

// coveringDecl declares ppc.covering_prefix. Rego has no prefix
// arithmetic but net.cidr_merge: written in Rego, the smallest prefix
// holding a set of addresses took every address's chain of prefixes (one
// cidr_merge per bit) and their intersection, a twentieth of decide on a
// capture whose workloads reach addresses outside the cluster.
var coveringDecl = &ast.Builtin{
	Name: "ppc.covering_prefix",
	Description: "Returns the smallest CIDR prefix that holds every prefix of cidrs (addresses count as /32 or /128), " +
		"all of one family, written as net.cidr_merge writes a prefix.",
	Decl: types.NewFunction(
		types.Args(types.Named("cidrs", types.NewAny(types.NewSet(types.S), types.NewArray(nil, types.S))).Description("CIDR prefixes or addresses of one family")),
		types.Named("prefix", types.S).Description("the smallest prefix holding them all"),
	),
}

// coveringPrefix implements ppc.covering_prefix: the prefix is as long as
// the shortest input prefix and the bits every input's network shares.
func coveringPrefix(_ rego.BuiltinContext, a *ast.Term) (*ast.Term, error) {
	var first *net.IPNet
	length := 0
	add := func(t *ast.Term) error {
		s, ok := t.Value.(ast.String)
		if !ok {
			return fmt.Errorf("ppc.covering_prefix: cidrs must hold strings, got %s", ast.ValueName(t.Value))
		}
		n, err := parsePrefix(string(s))
		if err != nil {
			return fmt.Errorf("ppc.covering_prefix: %w", err)
		}
		ones, _ := n.Mask.Size()
		if first == nil {
			first, length = n, ones
			return nil
		}
		if len(n.IP) != len(first.IP) {
			return fmt.Errorf("ppc.covering_prefix: %s and %s are of different families", first, n)
		}
		length = min(length, ones, commonBits(first.IP, n.IP))
		return nil
	}
	var err error
	switch v := a.Value.(type) {
	case ast.Set:
		err = v.Iter(func(t *ast.Term) error { return add(t) })
	case *ast.Array:
		for i := 0; i < v.Len() && err == nil; i++ {
			err = add(v.Elem(i))
		}
	default:
		err = fmt.Errorf("ppc.covering_prefix: cidrs must be a set or an array, got %s", ast.ValueName(a.Value))
	}
	if err != nil {
		return nil, err
	}
	if first == nil {
		return nil, fmt.Errorf("ppc.covering_prefix: no prefix given")
	}
	mask := net.CIDRMask(length, 8*len(first.IP))
	return ast.StringTerm((&net.IPNet{IP: first.IP.Mask(mask), Mask: mask}).String()), nil
}

// parsePrefix reads a CIDR prefix or a bare address (a host prefix), its
// network's address 4 bytes long for IPv4, 16 for IPv6.
func parsePrefix(s string) (*net.IPNet, error) {
	if !strings.Contains(s, "/") {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", s)
		}
		if v4 := ip.To4(); v4 != nil && !strings.Contains(s, ":") {
			return &net.IPNet{IP: v4, Mask: net.CIDRMask(32, 32)}, nil
		}
		return &net.IPNet{IP: ip.To16(), Mask: net.CIDRMask(128, 128)}, nil
	}
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", s)
	}
	if len(n.Mask) == net.IPv4len {
		n.IP = n.IP.To4()
	} else {
		n.IP = n.IP.To16()
	}
	return n, nil
}

// commonBits is how many leading bits a and b (of one length) share.
func commonBits(a, b net.IP) int {
	for i := range a {
		if x := a[i] ^ b[i]; x != 0 {
			return 8*i + bits.LeadingZeros8(x)
		}
	}
	return 8 * len(a)
}

// Builtins are the functions ppc adds to Rego. Capabilities declares
// them; every evaluation of packs (compile, lint, tests) registers them.
func Builtins() []Builtin {
	return []Builtin{{
		Decl:     groupByDecl,
		Register: rego.Function1(&rego.Function{Name: groupByDecl.Name, Decl: groupByDecl.Decl}, groupBy),
	}, {
		Decl:     groupByFieldDecl,
		Register: rego.Function2(&rego.Function{Name: groupByFieldDecl.Name, Decl: groupByFieldDecl.Decl}, groupByField),
	}, {
		Decl:     groupBySetDecl,
		Register: rego.Function1(&rego.Function{Name: groupBySetDecl.Name, Decl: groupBySetDecl.Decl}, groupBySet),
	}, {
		Decl:     pairsByDecl,
		Register: rego.Function3(&rego.Function{Name: pairsByDecl.Name, Decl: pairsByDecl.Decl}, pairsBy),
	}, {
		Decl:     coveringDecl,
		Register: rego.Function1(&rego.Function{Name: coveringDecl.Name, Decl: coveringDecl.Decl}, coveringPrefix),
	}}
}
