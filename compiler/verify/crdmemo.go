package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/policypilot/ppc/internal/jsonkey"
	"github.com/policypilot/ppc/internal/partmemo"
)

// crdMemo remembers what the API server's validation found clean in
// policies, so that a policy made of rules, peers, ports and values seen
// before is not validated element by element again.
//
// It is used only for what Cilium's CRD judges one by one, which it finds
// in the CRD itself (walk): the elements of lists whose schema has no
// uniqueness, no set or map list type, no CEL rule and no
// anyOf/oneOf/allOf/not over its items, and strings whose schema has no
// CEL rule and no default (label values, ports, protocols, addresses, DNS
// names), under ancestors whose CEL rules and combinators look only at
// which fields are present — never the object's apiVersion, kind or
// metadata, nor an embedded resource's, which the pipeline judges beyond
// their schema. Every other step of the API server's pipeline (pruning,
// defaulting) works field by field. Whether
// such an element or string is clean does not depend on the policy, rule
// or position it is in, and what judges a list from around (maxItems)
// looks only at its length. So, innermost first, a string is validated
// alone with its own schema's validator and replaced by the smallest
// clean string met at its path; a known element is left out of a list
// whose length the CRD does not bound (rules, peers, port rules) and
// replaced by a copy of the smallest clean element met at its path where
// it does (ports, ICMP fields); and the policy, validated once with its
// new elements where they are, is clean exactly when the policy as
// written is. (kube-openapi's validator costs ~0.1 ms for each rule
// however small.)
//
// The memo only ever answers "clean": a policy with any error or unknown
// field is validated again as written and reported as without it
// (TestCRDMemoSameDiagnostics).
type crdMemo struct {
	arrays map[string]memoArray // by path of the elements ("spec.ingress[]")
	// leaves are the strings the CRD judges by their own schema alone
	// (label values, ports, protocols, addresses, DNS names), by path
	// ("spec.ingress[].fromEndpoints[].matchLabels.*", "spec.egress[].toCIDR[]"):
	// the validator of that schema.
	leaves map[string]validation.SchemaValidator
	// parts: keys path + "\x00" + jsonkey, or path + "\x01" + a string;
	// kinds are paths.
	parts partmemo.Memo[any]
}

// memoArray is an independent list of the CRD's schema.
type memoArray struct {
	// droppable: the list's length is not constrained, so its known
	// elements are left out rather than replaced.
	droppable bool
}

// pendingElem is an element not known clean: remembered if the policy is
// (value, a copy: the API server's pipeline changes what it validates).
type pendingElem struct {
	path, key string
	value     any
}

// presenceOnlyRules are the CEL rules of Cilium's policy CRDs known to
// look only at which fields are present. Any other CEL rule on a list's
// ancestors keeps the list out of the memo (a new Cilium version with
// one makes TestCRDMemoArrays fail, as a reminder).
var presenceOnlyRules = map[string]bool{
	"has(self.spec) || has(self.specs)": true,
}

// newCRDMemo finds the independent lists and string values of a CRD's
// schema (structural, and as the validator reads it); nil if none.
func newCRDMemo(s *structuralschema.Structural, props *apiextensions.JSONSchemaProps) (*crdMemo, error) {
	m := &crdMemo{arrays: map[string]memoArray{}, leaves: map[string]validation.SchemaValidator{}}
	if err := m.walk(s, props, "", true); err != nil {
		return nil, err
	}
	if len(m.arrays) == 0 {
		return nil, nil
	}
	return m, nil
}

// walk records the independent lists and string values under s (at path;
// props is the same schema as the validator reads it). clean says that
// nothing above s looks inside it.
func (m *crdMemo) walk(s *structuralschema.Structural, props *apiextensions.JSONSchemaProps, path string, clean bool) error {
	for _, r := range s.XValidations {
		if !presenceOnlyRules[r.Rule] {
			clean = false
		}
	}
	if s.XEmbeddedResource {
		clean = false // its apiVersion, kind and metadata are judged beyond their schema
	}
	vv := s.ValueValidation
	noCombinators := vv == nil || noNested(vv)
	switch {
	case s.Type == "string":
		// A string judged by its own schema (a label value, a port, an
		// address, a DNS name): no CEL rule on it and no default (a null
		// is pruned, not validated: only strings are taken).
		if clean && len(s.XValidations) == 0 && s.Default.Object == nil && props != nil {
			sv, _, err := validation.NewSchemaValidator(props)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			m.leaves[path] = sv
		}
	case s.Items != nil:
		independent := clean && len(s.XValidations) == 0 && noCombinators &&
			(s.XListType == nil || *s.XListType == "atomic") && (vv == nil || !vv.UniqueItems)
		if independent {
			m.arrays[path+"[]"] = memoArray{droppable: vv == nil || vv.MaxItems == nil && vv.MinItems == nil}
		}
		if props != nil && props.Items != nil {
			return m.walk(s.Items, props.Items.Schema, path+"[]", independent)
		}
	case s.AdditionalProperties != nil && s.AdditionalProperties.Structural != nil && len(s.Properties) == 0:
		// A map (a selector's matchLabels) whose values are judged one
		// by one: no bound on its size, nothing over its values.
		independent := clean && len(s.XValidations) == 0 && noCombinators && (vv == nil || vv.MaxProperties == nil && vv.MinProperties == nil)
		if props != nil && props.AdditionalProperties != nil {
			return m.walk(s.AdditionalProperties.Structural, props.AdditionalProperties.Schema, path+".*", independent)
		}
	default:
		for p, child := range s.Properties {
			if path == "" && (p == "apiVersion" || p == "kind" || p == "metadata") {
				continue // judged beyond their schema (validate): never stood for
			}
			var cp *apiextensions.JSONSchemaProps
			if props != nil {
				if x, ok := props.Properties[p]; ok {
					cp = &x
				}
			}
			if err := m.walk(&child, cp, joinPath(path, p), clean && !reaches(vv, p)); err != nil {
				return err
			}
		}
	}
	return nil
}

// noNested: a value validation without combinators.
func noNested(vv *structuralschema.ValueValidation) bool {
	return len(vv.AllOf) == 0 && len(vv.AnyOf) == 0 && len(vv.OneOf) == 0 && vv.Not == nil
}

// reaches reports whether a combinator of vv constrains property p's
// value (a branch that only requires p to be present does not).
func reaches(vv *structuralschema.ValueValidation, p string) bool {
	if vv == nil {
		return false
	}
	var branches []structuralschema.NestedValueValidation
	branches = append(append(append(branches, vv.AllOf...), vv.AnyOf...), vv.OneOf...)
	if vv.Not != nil {
		branches = append(branches, *vv.Not)
	}
	for _, b := range branches {
		if b.AdditionalProperties != nil {
			return true
		}
		if nv, ok := b.Properties[p]; ok && !reflect.DeepEqual(nv, structuralschema.NestedValueValidation{}) {
			return true
		}
	}
	return false
}

func joinPath(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// canon stands the clean strings in x (at path, of schema s) for their
// path's canonical string (canonLeaf) and the known elements of its
// independent lists for a fresh copy of their path's canonical element,
// or leaves them out where the list's length is not constrained (each
// element costs the validator ~0.1 ms, however small), innermost first;
// it lists the other elements in pending and returns what stands for x.
// Only the schema's own properties and maps are followed (not unknown
// fields), so paths are the schema's. False when x cannot be handled (an
// element too large): the policy is then validated as written.
func (m *crdMemo) canon(x any, s *structuralschema.Structural, path string, pending *[]pendingElem) (any, bool) {
	switch v := x.(type) {
	case string:
		return m.canonLeaf(v, path)
	case map[string]any:
		if ap := s.AdditionalProperties; ap != nil && ap.Structural != nil && len(s.Properties) == 0 {
			for k, c := range v {
				c, ok := m.canon(c, ap.Structural, path+".*", pending)
				if !ok {
					return x, false
				}
				v[k] = c
			}
			return x, true
		}
		for k, c := range v {
			ps, ok := s.Properties[k]
			if !ok {
				continue
			}
			c, ok := m.canon(c, &ps, joinPath(path, k), pending)
			if !ok {
				return x, false
			}
			v[k] = c
		}
	case []any:
		ep := path + "[]"
		a, ok := m.arrays[ep]
		if !ok || s.Items == nil {
			return x, true // no independent list below a dependent one
		}
		kept := v[:0]
		for _, e := range v {
			// A known element's new inner elements stay pending: a clean
			// element's elements are clean.
			e, ok := m.canon(e, s.Items, ep, pending)
			if !ok {
				return x, false
			}
			b, ok := jsonkey.Append([]byte(ep+"\x00"), e)
			if !ok || len(b) > partmemo.MaxKey {
				return x, false
			}
			key := string(b)
			if !m.parts.Known(key) {
				*pending = append(*pending, pendingElem{path: ep, key: key, value: runtime.DeepCopyJSONValue(e)})
				kept = append(kept, e)
				continue
			}
			if a.droppable {
				continue
			}
			c, ok := m.parts.Canonical(ep)
			if !ok {
				return x, false
			}
			kept = append(kept, runtime.DeepCopyJSONValue(c)) // the API server's pipeline changes what it validates
		}
		return kept, true
	}
	return x, true
}

// canonLeaf returns the path's canonical string for str when str is a
// string the CRD judges alone (leaves) and is known or found clean, and
// str itself otherwise (for the policy's validation to judge or report).
func (m *crdMemo) canonLeaf(str, path string) (any, bool) {
	sv, ok := m.leaves[path]
	if !ok || len(str) > partmemo.MaxKey {
		return str, true
	}
	key := path + "\x01" + str
	if !m.parts.Known(key) {
		if len(validation.ValidateCustomResource(nil, str, sv)) > 0 {
			return str, true
		}
		m.parts.Remember(path, key, str)
	}
	c, ok := m.parts.Canonical(path)
	return c, ok
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var x any
	err := dec.Decode(&x)
	return x, err
}

// check validates obj (decoded from raw, which it may change) as the API
// server would, through the memo when the CRD has one.
func (c *crdValidator) check(ctx context.Context, obj map[string]any, raw []byte) (unknown []string, errs field.ErrorList) {
	if c.memo == nil {
		return c.validate(ctx, obj)
	}
	var pending []pendingElem
	if x, ok := c.memo.canon(obj, c.structural, "", &pending); ok {
		unknown, errs := c.validate(ctx, x.(map[string]any))
		if len(unknown) == 0 && len(errs) == 0 {
			for _, p := range pending {
				c.memo.parts.Remember(p.path, p.key, p.value)
			}
			return nil, nil
		}
	}
	// Not clean (or not handled): validated again as written, for every
	// problem at its own path.
	fresh, err := decodeJSON(raw)
	m, _ := fresh.(map[string]any)
	if err != nil || m == nil {
		return nil, field.ErrorList{field.Invalid(nil, nil, "not a JSON object")}
	}
	return c.validate(ctx, m)
}
