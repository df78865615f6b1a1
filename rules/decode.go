package rules

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
)

// This file turns the decision query's bindings (OPA's terms, as the
// evaluation left them) into Decisions field by field, strictly: a field
// the contract does not name, or a value of the wrong type, is an error
// that says where. Only the rules themselves are encoded as JSON, for
// synthesis to decode strictly into Cilium's types. The terms are read
// directly: converting them to Go maps and slices first (what OPA's
// results are by default) and encoding those cost a sixth of what the
// evaluation allocated with a policy per workload.

// decodeDecisions reads the bindings of decisionQuery (each an *ast.Term,
// or nil when unbound).
func decodeDecisions(b map[string]any) (*Decisions, error) {
	d := &Decisions{Policies: map[string]*PolicyDecision{}, Excluded: map[string]string{}}
	enc := ruleEncoder{}
	err := eachField(value(b["policies"]), "policies", func(key string, v ast.Value) (err error) {
		d.Policies[key], err = decodePolicy(v, fmt.Sprintf("policies[%q]", key), enc)
		return err
	})
	if err != nil {
		return nil, err
	}
	if d.Excluded, err = stringMap(value(b["excluded"]), "excluded"); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		dst  *[]Finding
	}{{"warnings", &d.Warnings}, {"deny", &d.Deny}, {"warn", &d.Warn}} {
		if *f.dst, err = findings(value(b[f.name]), f.name); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// value is the value of a binding (nil when unbound).
func value(x any) ast.Value {
	if t, ok := x.(*ast.Term); ok && t != nil {
		return t.Value
	}
	return nil
}

func decodePolicy(v ast.Value, at string, enc ruleEncoder) (*PolicyDecision, error) {
	p := &PolicyDecision{}
	err := eachField(v, at, func(k string, x ast.Value) (err error) {
		switch k {
		case "cluster":
			p.Cluster, err = str(x, at, k)
		case "namespace":
			p.Namespace, err = str(x, at, k)
		case "name":
			p.Name, err = str(x, at, k)
		case "selector":
			p.Selector, err = stringMap(x, at+"."+k)
		case "labels":
			p.Labels, err = stringMap(x, at+"."+k)
		case "subjects":
			p.Subjects, err = stringList(x, at+"."+k)
		case "ingress_edges":
			p.IngressEdges, err = stringList(x, at+"."+k)
		case "egress_edges":
			p.EgressEdges, err = stringList(x, at+"."+k)
		case "ingress":
			p.Ingress, err = enc.rules(x, at+"."+k)
		case "egress":
			p.Egress, err = enc.rules(x, at+"."+k)
		case "clusterwide":
			p.Clusterwide, err = boolean(x, at, k)
		case "default_deny":
			p.DefaultDeny, err = defaultDeny(x, at+"."+k)
		default:
			err = fmt.Errorf("%s.%s: not a field of a policy decision (see rules/README.md)", at, k)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// findings reads a set (or array) of {msg, policy?, object?}, sorted by
// policy, object and message.
func findings(v ast.Value, at string) ([]Finding, error) {
	if v == nil {
		return nil, nil
	}
	out := []Finding{}
	err := eachElem(v, at, "a set of {msg, policy, object}", func(i int, x ast.Value) error {
		var f Finding
		err := eachField(x, elemPath(at, i), func(k string, y ast.Value) (err error) {
			switch k {
			case "msg":
				f.Msg, err = str(y, elemPath(at, i), k)
			case "policy":
				f.Policy, err = str(y, elemPath(at, i), k)
			case "object":
				f.Object, err = str(y, elemPath(at, i), k)
			default:
				err = fmt.Errorf("%s.%s: not a field of a finding (msg, policy, object)", elemPath(at, i), k)
			}
			return err
		})
		out = append(out, f)
		return err
	})
	if err != nil {
		return nil, err
	}
	sortFindings(out)
	return out, nil
}

// sortFindings orders findings by policy, object and message.
func sortFindings(out []Finding) {
	sort.Slice(out, func(i, j int) bool {
		if out[i].Policy != out[j].Policy {
			return out[i].Policy < out[j].Policy
		}
		if out[i].Object != out[j].Object {
			return out[i].Object < out[j].Object
		}
		return out[i].Msg < out[j].Msg
	})
}

// The readers below take the path of what they read (at) to say where
// an error is; a path below it is made only for an error (a string per
// element read would be most of what decoding allocates).

// elemPath is the path of element i of at.
func elemPath(at string, i int) string { return fmt.Sprintf("%s[%d]", at, i) }

// eachField calls f with every field of object v (nothing when v is nil);
// a key that is not a string is an error.
func eachField(v ast.Value, at string, f func(key string, x ast.Value) error) error {
	if v == nil {
		return nil
	}
	o, ok := v.(ast.Object)
	if !ok {
		return fmt.Errorf("%s: want an object, got %s", at, typeName(v))
	}
	return o.Iter(func(k, x *ast.Term) error {
		s, ok := k.Value.(ast.String)
		if !ok {
			return fmt.Errorf("%s: key %s is not a string", at, k)
		}
		return f(string(s), x.Value)
	})
}

// eachElem calls f with every element of array or set v (want: what v
// should have been).
func eachElem(v ast.Value, at, want string, f func(i int, x ast.Value) error) error {
	i := 0
	each := func(x *ast.Term) error {
		err := f(i, x.Value)
		i++
		return err
	}
	switch v := v.(type) {
	case *ast.Array:
		return v.Iter(each)
	case ast.Set:
		return v.Iter(each)
	}
	return fmt.Errorf("%s: want %s, got %s", at, want, typeName(v))
}

// str reads field k of at as a string.
func str(v ast.Value, at, k string) (string, error) {
	s, ok := v.(ast.String)
	if !ok {
		return "", fmt.Errorf("%s.%s: want a string, got %s", at, k, typeName(v))
	}
	return string(s), nil
}

// boolean reads field k of at as a boolean.
func boolean(v ast.Value, at, k string) (bool, error) {
	b, ok := v.(ast.Boolean)
	if !ok {
		return false, fmt.Errorf("%s.%s: want a boolean, got %s", at, k, typeName(v))
	}
	return bool(b), nil
}

func defaultDeny(v ast.Value, at string) (*DefaultDeny, error) {
	d := &DefaultDeny{}
	err := eachField(v, at, func(k string, x ast.Value) error {
		b, err := boolean(x, at, k)
		if err != nil {
			return err
		}
		switch k {
		case "ingress":
			d.Ingress = &b
		case "egress":
			d.Egress = &b
		default:
			return fmt.Errorf("%s.%s: not a direction (ingress, egress)", at, k)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

func stringList(v ast.Value, at string) ([]string, error) {
	out := []string{}
	if a, ok := v.(*ast.Array); ok {
		out = make([]string, 0, a.Len())
	}
	err := eachElem(v, at, "an array of strings", func(i int, x ast.Value) error {
		s, ok := x.(ast.String)
		if !ok {
			return fmt.Errorf("%s: want a string, got %s", elemPath(at, i), typeName(x))
		}
		out = append(out, string(s))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func stringMap(v ast.Value, at string) (map[string]string, error) {
	out := map[string]string{}
	err := eachField(v, at, func(k string, x ast.Value) (err error) {
		out[k], err = str(x, at, k)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ruleEncoder encodes rule objects as JSON: synthesis decodes them
// strictly into Cilium's rule types. It remembers each object it encoded:
// policies share rule objects (the DNS rule of every egress is one term),
// and OPA never changes a value once evaluated.
type ruleEncoder map[ast.Value]json.RawMessage

// rules encodes each rule object of the array v.
func (enc ruleEncoder) rules(v ast.Value, at string) ([]json.RawMessage, error) {
	out := []json.RawMessage{}
	err := eachElem(v, at, "an array of rules", func(i int, x ast.Value) error {
		if _, ok := x.(ast.Object); !ok {
			return fmt.Errorf("%s: want a rule object, got %s", elemPath(at, i), typeName(x))
		}
		if b, ok := enc[x]; ok {
			out = append(out, b)
			return nil
		}
		b, err := appendJSON(make([]byte, 0, 256), x)
		if err != nil {
			return fmt.Errorf("%s: %w", elemPath(at, i), err)
		}
		enc[x] = b
		out = append(out, b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// appendJSON appends v as encoding/json writes the Go value OPA would
// give for it: object keys sorted (the order an object of string keys
// iterates in), sets as arrays in the set's order, strings escaped as
// encoding/json escapes them.
func appendJSON(b []byte, v ast.Value) ([]byte, error) {
	w := jsonWriter{b: b}
	w.value(v)
	return w.b, w.err
}

// jsonWriter is appendJSON's state: the bytes so far and the first error.
type jsonWriter struct {
	b   []byte
	err error
}

func (w *jsonWriter) value(v ast.Value) {
	switch v := v.(type) {
	case ast.Null:
		w.b = append(w.b, "null"...)
	case ast.Boolean:
		w.b = strconv.AppendBool(w.b, bool(v))
	case ast.Number:
		w.b = append(w.b, v...)
	case ast.String:
		w.b = appendString(w.b, string(v))
	case *ast.Array:
		w.b = append(w.b, '[')
		for i := range v.Len() {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.value(v.Elem(i).Value)
		}
		w.b = append(w.b, ']')
	case ast.Set:
		w.b = append(w.b, '[')
		i := 0
		v.Foreach(func(x *ast.Term) {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			i++
			w.value(x.Value)
		})
		w.b = append(w.b, ']')
	case ast.Object:
		w.b = append(w.b, '{')
		i := 0
		v.Until(func(k, x *ast.Term) bool {
			s, ok := k.Value.(ast.String)
			if !ok {
				w.err = fmt.Errorf("key %s is not a string", k)
				return true
			}
			if i > 0 {
				w.b = append(w.b, ',')
			}
			i++
			w.b = appendString(w.b, string(s))
			w.b = append(w.b, ':')
			w.value(x.Value)
			return w.err != nil
		})
		w.b = append(w.b, '}')
	default:
		if w.err == nil {
			w.err = fmt.Errorf("%s is not a JSON value", typeName(v))
		}
	}
}

// appendString appends s quoted: as it is when nothing in it needs
// escaping (printable ASCII other than the quote, the backslash and the
// characters encoding/json escapes for HTML), else as encoding/json
// writes it.
func appendString(b []byte, s string) []byte {
	plain := utf8.ValidString(s) && !strings.ContainsAny(s, `"\<>&`)
	for i := 0; plain && i < len(s); i++ {
		plain = s[i] >= 0x20 && s[i] < 0x7f
	}
	if plain {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, _ := json.Marshal(s) // a string always encodes
	return append(b, q...)
}

// typeName names a value's type as Rego users know them (a set is an
// array in JSON).
func typeName(v ast.Value) string {
	switch v.(type) {
	case nil, ast.Null:
		return "null"
	case ast.String:
		return "a string"
	case ast.Boolean:
		return "a boolean"
	case ast.Number:
		return "a number"
	case *ast.Array, ast.Set:
		return "an array"
	case ast.Object:
		return "an object"
	}
	return ast.ValueName(v)
}
