package rules

import (
	"encoding/json"
	"fmt"
	"sort"
)

// This file turns the decision query's bindings (the Go values OPA gives:
// maps, slices, strings, json.Number) into Decisions field by field,
// strictly: a field the contract does not name, or a value of the wrong
// type, is an error that says where. Only the rules themselves are
// encoded as JSON, for synthesis to decode strictly into Cilium's types.

// decodeDecisions reads the bindings of decisionQuery.
func decodeDecisions(b map[string]any) (*Decisions, error) {
	d := &Decisions{Policies: map[string]*PolicyDecision{}, Excluded: map[string]string{}}
	var err error
	pols, err := object(b["policies"], "policies")
	if err != nil {
		return nil, err
	}
	for key, v := range pols {
		if d.Policies[key], err = decodePolicy(v, fmt.Sprintf("policies[%q]", key)); err != nil {
			return nil, err
		}
	}
	if d.Excluded, err = stringMap(b["excluded"], "excluded"); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		dst  *[]Finding
	}{{"warnings", &d.Warnings}, {"deny", &d.Deny}, {"warn", &d.Warn}} {
		if *f.dst, err = findings(b[f.name], f.name); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func decodePolicy(v any, at string) (*PolicyDecision, error) {
	m, err := object(v, at)
	if err != nil {
		return nil, err
	}
	p := &PolicyDecision{}
	for k, x := range m {
		at := at + "." + k
		switch k {
		case "cluster":
			p.Cluster, err = str(x, at)
		case "namespace":
			p.Namespace, err = str(x, at)
		case "name":
			p.Name, err = str(x, at)
		case "selector":
			p.Selector, err = stringMap(x, at)
		case "labels":
			p.Labels, err = stringMap(x, at)
		case "subjects":
			p.Subjects, err = stringList(x, at)
		case "ingress_edges":
			p.IngressEdges, err = stringList(x, at)
		case "egress_edges":
			p.EgressEdges, err = stringList(x, at)
		case "ingress":
			p.Ingress, err = rawRules(x, at)
		case "egress":
			p.Egress, err = rawRules(x, at)
		case "clusterwide":
			p.Clusterwide, err = boolean(x, at)
		case "default_deny":
			p.DefaultDeny, err = defaultDeny(x, at)
		default:
			err = fmt.Errorf("%s: not a field of a policy decision (see rules/README.md)", at)
		}
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

// findings reads a set (or array) of {msg, policy?, object?}, sorted by
// policy, object and message.
func findings(v any, at string) ([]Finding, error) {
	if v == nil {
		return nil, nil
	}
	xs, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: want a set of {msg, policy, object}, got %s", at, typeName(v))
	}
	out := make([]Finding, 0, len(xs))
	for i, x := range xs {
		at := fmt.Sprintf("%s[%d]", at, i)
		m, err := object(x, at)
		if err != nil {
			return nil, err
		}
		var f Finding
		for k, y := range m {
			switch k {
			case "msg":
				f.Msg, err = str(y, at+".msg")
			case "policy":
				f.Policy, err = str(y, at+".policy")
			case "object":
				f.Object, err = str(y, at+".object")
			default:
				err = fmt.Errorf("%s.%s: not a field of a finding (msg, policy, object)", at, k)
			}
			if err != nil {
				return nil, err
			}
		}
		out = append(out, f)
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

func object(v any, at string) (map[string]any, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want an object, got %s", at, typeName(v))
	}
	return m, nil
}

func str(v any, at string) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: want a string, got %s", at, typeName(v))
	}
	return s, nil
}

func boolean(v any, at string) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%s: want a boolean, got %s", at, typeName(v))
	}
	return b, nil
}

func defaultDeny(v any, at string) (*DefaultDeny, error) {
	m, err := object(v, at)
	if err != nil {
		return nil, err
	}
	d := &DefaultDeny{}
	for k, x := range m {
		b, err := boolean(x, at+"."+k)
		if err != nil {
			return nil, err
		}
		switch k {
		case "ingress":
			d.Ingress = &b
		case "egress":
			d.Egress = &b
		default:
			return nil, fmt.Errorf("%s.%s: not a direction (ingress, egress)", at, k)
		}
	}
	return d, nil
}

func stringList(v any, at string) ([]string, error) {
	xs, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: want an array of strings, got %s", at, typeName(v))
	}
	out := make([]string, len(xs))
	for i, x := range xs {
		var err error
		if out[i], err = str(x, fmt.Sprintf("%s[%d]", at, i)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func stringMap(v any, at string) (map[string]string, error) {
	m, err := object(v, at)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(m))
	for k, x := range m {
		if out[k], err = str(x, at+"."+k); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// rawRules encodes each rule object as JSON: synthesis decodes it
// strictly into Cilium's rule types.
func rawRules(v any, at string) ([]json.RawMessage, error) {
	xs, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: want an array of rules, got %s", at, typeName(v))
	}
	out := make([]json.RawMessage, len(xs))
	for i, x := range xs {
		if _, ok := x.(map[string]any); !ok {
			return nil, fmt.Errorf("%s[%d]: want a rule object, got %s", at, i, typeName(x))
		}
		b, err := json.Marshal(x)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", at, i, err)
		}
		out[i] = b
	}
	return out, nil
}

// typeName names a JSON value's type as Rego users know them.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64, int:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
