package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/format"
	cuejson "cuelang.org/go/encoding/json"

	"github.com/policypilot/ppc/internal/jsonkey"
	"github.com/policypilot/ppc/internal/partmemo"
)

// validMemo remembers the parts of policies found valid, so that a policy
// made of parts seen before is not validated again.
//
// In ppc's schema a policy's parts are constrained by definitions that
// refer to nothing around them: metadata.name and metadata.namespace
// (strings), each value of metadata.annotations, spec.endpointSelector,
// each element of spec.ingress and spec.egress (#PPCIngress, #PPCEgress),
// and within them each element of a list (a rule's peers, port rules,
// addresses and names; a port rule's ports) and each value of a
// selector's matchLabels (#LabelValue). What constrains a list from
// around looks only at its length, what constrains a rule only at which
// fields it has, what constrains a selector only at its label keys, never
// at the values inside. So whether such a part is valid does not depend
// on where it is, and any valid instance of the same definition can stand
// for it: a policy is valid when each of its parts is, and its skeleton
// (every part replaced, innermost first, by the smallest valid instance
// of its definition met so far) is too. Workloads are peers of many
// policies and ports, addresses and label keys recur, so rules and
// selectors come down to a few skeletons and policies to one per count
// of rules: most of a compile's policies are known valid from lookups,
// and each workload's name, port or address is validated once. (CUE
// takes 0.1–0.2 ms for one selector or port rule, ~0.5 ms for a policy's
// metadata and selector alone.)
//
// The memo only ever answers "valid": a policy with a part that is not
// valid, or whose skeleton is not, is validated whole, as without the
// memo, and every violation is reported where it is.
// TestMemoSameViolations holds both ways to the same answers.
type validMemo struct {
	partmemo.Memo[any] // keys: kind + "\x00" + jsonkey, or kind + "\x01" + a string
	// kinds names the definitions (their CUE syntax -> "k1", "k2", …).
	kinds  sync.Map
	nkinds atomic.Int64
	// checked counts the parts CUE validated (the memo's misses); trace,
	// when set (by tests), is called with each one's key.
	checked atomic.Int64
	trace   func(key string)
}

// metadataParts are the fields of metadata validated on their own. The
// labels are not: #PPC requires one of them, a constraint from around.
var metadataParts = []string{"metadata.name", "metadata.namespace", "metadata.annotations"}

// knownValid reports whether doc is a policy whose parts and skeleton are
// all known or found valid. It never reports an invalid document valid;
// false says only that the document must be validated whole.
func (s *Schema) knownValid(in *instance, name string, doc []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var top map[string]any
	if dec.Decode(&top) != nil || dec.More() {
		return false
	}
	md, _ := top["metadata"].(map[string]any)
	spec, _ := top["spec"].(map[string]any)
	if md == nil || spec == nil {
		return false
	}
	// replace stands the valid part m[field] (path) for its canonical.
	replace := func(m map[string]any, field string, p partDef) bool {
		x, ok := m[field]
		if !ok {
			return true
		}
		c, ok := s.part(in, name, p, x)
		m[field] = c
		return ok
	}
	if a, ok := md["annotations"].(map[string]any); ok && !s.values(in, name, in.part(s.memo, "metadata.annotations.*"), a) {
		return false
	}
	for _, path := range metadataParts {
		if !replace(md, path[len("metadata."):], in.part(s.memo, path)) {
			return false
		}
	}
	if x, ok := spec["endpointSelector"]; ok {
		c, ok := s.canon(in, name, "spec.endpointSelector", in.part(s.memo, "spec.endpointSelector"), x)
		if !ok {
			return false
		}
		spec["endpointSelector"] = c
	}
	for _, side := range []string{"ingress", "egress"} {
		x, ok := spec[side]
		if !ok {
			continue
		}
		rules, ok := x.([]any)
		if !ok {
			return false
		}
		for i, r := range rules {
			c, ok := s.canon(in, name, side+"[]", in.sideRule(s.memo, side), r)
			if !ok {
				return false
			}
			rules[i] = c
		}
	}
	_, ok := s.part(in, name, in.cached(s.memo, "", func() cue.Value { return in.def }), top)
	return ok
}

// canon validates x, a part of definition p at path, and returns its
// kind's canonical instance (see part). Before, it stands x's own parts
// for theirs: each element of a list field (a rule's peers and port
// rules, a port rule's ports, …: ppc's schema constrains a list's
// elements one by one and, from around, only its length), and each value
// of a selector's matchLabels (label values are constrained one by one by
// #Labels; the keys stay, for the selector's own validation). Label keys
// and ports recur, so rules and selectors become a few skeletons, and
// each workload's name, port or address is validated once.
func (s *Schema) canon(in *instance, name, path string, p partDef, x any) (any, bool) {
	if m, ok := x.(map[string]any); ok && p.kind != "" {
		for f, v := range m {
			switch v := v.(type) {
			case []any:
				ep := in.cached(s.memo, path+"."+f+"[]", func() cue.Value {
					return p.def.LookupPath(cue.MakePath(cue.Str(f).Optional(), cue.AnyIndex))
				})
				if ep.kind == "" {
					continue // not a field of p: p's validation judges it
				}
				for j, e := range v {
					c, ok := s.canon(in, name, path+"."+f+"[]", ep, e)
					if !ok {
						return x, false
					}
					v[j] = c
				}
			case map[string]any:
				if f != "matchLabels" {
					continue
				}
				vp := in.cached(s.memo, path+".matchLabels.*", func() cue.Value {
					return p.def.LookupPath(cue.MakePath(cue.Str(f).Optional(), cue.AnyString))
				})
				if !s.values(in, name, vp, v) {
					return x, false
				}
			}
		}
	}
	return s.part(in, name, p, x)
}

// values stands each value of m valid against p for its canonical (m is
// a map whose values the definition constrains one by one).
func (s *Schema) values(in *instance, name string, p partDef, m map[string]any) bool {
	if p.kind == "" {
		return true
	}
	for k, x := range m {
		c, ok := s.part(in, name, p, x)
		if !ok {
			return false
		}
		m[k] = c
	}
	return true
}

// part reports whether x is a valid part of kind p, from the memo or by
// validating it, and returns what stands for it in the skeleton: the
// smallest valid instance of the kind met so far (x itself when x is not
// valid).
func (s *Schema) part(in *instance, name string, p partDef, x any) (any, bool) {
	if p.kind == "" {
		return x, false
	}
	var key string
	var v cue.Value
	if str, ok := x.(string); ok && len(str) <= partmemo.MaxKey {
		// A string (a label value, a name, an address) is its own key:
		// no JSON, no parser.
		key = p.kind + "\x01" + str
		if s.memo.Known(key) {
			return s.memo.Canonical(p.kind)
		}
		v = in.ctx.Encode(str)
	} else {
		k, ok := jsonkey.Append([]byte(p.kind+"\x00"), x)
		if !ok || len(k) > partmemo.MaxKey {
			return x, false
		}
		key = string(k)
		if s.memo.Known(key) {
			return s.memo.Canonical(p.kind)
		}
		b, err := json.Marshal(x)
		if err != nil {
			return x, false
		}
		expr, err := cuejson.Extract(name, b)
		if err != nil {
			return x, false
		}
		v = in.ctx.BuildExpr(expr)
	}
	s.memo.checked.Add(1)
	if s.memo.trace != nil {
		s.memo.trace(key)
	}
	if v.Err() != nil || p.def.Unify(v).Validate(cue.Concrete(true)) != nil {
		return x, false
	}
	s.memo.Remember(p.kind, key, x)
	return s.memo.Canonical(p.kind)
}

// kindOf names def in the memo: definitions written alike (CUE's syntax
// of the whole definition, references expanded) are one kind, so the
// peers of fromEndpoints and toEndpoints (both #Selector), or the port
// rules of both sides, are remembered once. "" for a definition that does
// not exist.
func (m *validMemo) kindOf(def cue.Value) string {
	if !def.Exists() || def.Err() != nil {
		return ""
	}
	b, err := format.Node(def.Syntax(cue.Docs(false)))
	if err != nil {
		return ""
	}
	k, _ := m.kinds.LoadOrStore(string(b), fmt.Sprintf("k%d", m.nkinds.Add(1)))
	return k.(string)
}
