// Package policydiff compares two sets of CiliumNetworkPolicies and
// CiliumClusterwideNetworkPolicies by what they enforce, not by their
// text: per policy, the selectors and the rules of each section that were
// added or removed, with rule order, key order, YAML style and metadata
// (ppc's first-seen/last-seen annotations, labels) ignored, as Cilium
// ignores them. With flows, CompareVerdicts compares what Cilium's engine
// decides for every observed connection under each set.
package policydiff

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/ir"
)

// Status says what happened to a policy.
type Status string

// The statuses of a policy in a diff.
const (
	Added   Status = "added"
	Removed Status = "removed"
	Changed Status = "changed"
)

// Rule is a rule of one section of a policy, under one selector.
type Rule struct {
	// Selector is the subject's selector (endpointSelector or
	// nodeSelector) as canonical JSON: it matters when a policy has
	// several specs.
	Selector string `json:"selector"`
	// Section is ingress, ingressDeny, egress or egressDeny.
	Section string `json:"section"`
	// Rule is the rule as canonical JSON (keys sorted).
	Rule string `json:"rule"`
}

// Policy is one policy that differs.
type Policy struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Status    Status `json:"status"`
	// Old and New are where the policy is in each set ("" when absent).
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
	// AddedRules and RemovedRules are the rules only the new (old) set has.
	AddedRules   []Rule `json:"addedRules"`
	RemovedRules []Rule `json:"removedRules"`
	// Settings lists the other enforced fields that changed
	// (enableDefaultDeny, the selectors themselves), as "field: old -> new".
	Settings []string `json:"settings,omitempty"`
}

// ID is "Kind namespace/name".
func (p Policy) ID() string {
	if p.Namespace == "" {
		return p.Kind + " " + p.Name
	}
	return p.Kind + " " + p.Namespace + "/" + p.Name
}

// Result is a semantic diff of two policy sets.
type Result struct {
	Policies  []Policy `json:"policies"` // by kind, namespace, name
	Unchanged int      `json:"unchanged"`
	// Verdicts, with flows, are the connections whose verdict differs.
	Verdicts []VerdictChange `json:"verdicts,omitempty"`
	// Replayed counts the connections replayed (0 without flows).
	Replayed int `json:"replayed"`
}

// Empty reports whether the sets enforce the same thing (as far as the
// rules and, with flows, the verdicts show).
func (r *Result) Empty() bool { return len(r.Policies) == 0 && len(r.Verdicts) == 0 }

// policyKinds are the kinds compared; other objects are ignored.
var policyKinds = map[string]bool{"CiliumNetworkPolicy": true, "CiliumClusterwideNetworkPolicy": true, "NetworkPolicy": true}

// sections are the rule lists of a spec.
var sections = []string{"ingress", "ingressDeny", "egress", "egressDeny"}

// summary is what a policy enforces, as sets of canonical JSON.
type summary struct {
	where    string
	rules    map[Rule]bool
	settings map[string]string // field -> canonical value
}

// Compare diffs two sets. A document that is not a policy is ignored;
// one that cannot be decoded is an error naming it. Two policies with the
// same kind, namespace and name in one set are an error (the second would
// replace the first when applied).
func Compare(old, new []manifest.Object) (*Result, error) {
	a, err := summarize(old)
	if err != nil {
		return nil, err
	}
	b, err := summarize(new)
	if err != nil {
		return nil, err
	}
	keys := map[[3]string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	sorted := make([][3]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Slice(sorted, func(i, j int) bool {
		for x := range 3 {
			if sorted[i][x] != sorted[j][x] {
				return sorted[i][x] < sorted[j][x]
			}
		}
		return false
	})
	res := &Result{Policies: []Policy{}}
	for _, k := range sorted {
		sa, inA := a[k]
		sb, inB := b[k]
		p := Policy{Kind: k[0], Namespace: k[1], Name: k[2], AddedRules: []Rule{}, RemovedRules: []Rule{}}
		switch {
		case !inA:
			p.Status, p.New = Added, sb.where
			p.AddedRules = sortedRules(sb.rules, nil)
		case !inB:
			p.Status, p.Old = Removed, sa.where
			p.RemovedRules = sortedRules(sa.rules, nil)
		default:
			p.Status, p.Old, p.New = Changed, sa.where, sb.where
			p.AddedRules = sortedRules(sb.rules, sa.rules)
			p.RemovedRules = sortedRules(sa.rules, sb.rules)
			p.Settings = settingChanges(sa.settings, sb.settings)
			if len(p.AddedRules)+len(p.RemovedRules)+len(p.Settings) == 0 {
				res.Unchanged++
				continue
			}
		}
		res.Policies = append(res.Policies, p)
	}
	return res, nil
}

func summarize(objs []manifest.Object) (map[[3]string]*summary, error) {
	out := map[[3]string]*summary{}
	for _, o := range objs {
		if !policyKinds[o.Kind] {
			continue
		}
		k := [3]string{o.Kind, o.Namespace, o.Name}
		if prev, dup := out[k]; dup {
			return nil, fmt.Errorf("%s: %s is also defined at %s", o.Where(), o.ID(), prev.where)
		}
		var doc struct {
			Spec  map[string]any   `json:"spec"`
			Specs []map[string]any `json:"specs"`
		}
		if err := json.Unmarshal(o.JSON, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", o.Where(), err)
		}
		s := &summary{where: o.Where(), rules: map[Rule]bool{}, settings: map[string]string{}}
		specs := doc.Specs
		if doc.Spec != nil {
			specs = append([]map[string]any{doc.Spec}, specs...)
		}
		for _, sp := range specs {
			sel := "endpointSelector " + canonical(sp["endpointSelector"])
			if ns, ok := sp["nodeSelector"]; ok {
				sel = "nodeSelector " + canonical(ns)
			}
			if ps, ok := sp["podSelector"]; ok && o.Kind == "NetworkPolicy" {
				sel = "podSelector " + canonical(ps)
				if pt, ok := sp["policyTypes"]; ok {
					s.settings[sel+" policyTypes"] = canonical(pt)
				}
			}
			s.settings["selector "+sel] = "present"
			if dd, ok := sp["enableDefaultDeny"]; ok {
				s.settings[sel+" enableDefaultDeny"] = canonical(dd)
			}
			for _, sec := range sections {
				rs, _ := sp[sec].([]any)
				for _, r := range rs {
					s.rules[Rule{Selector: sel, Section: sec, Rule: canonical(canonicalRule(r))}] = true
				}
			}
		}
		out[k] = s
	}
	return out, nil
}

// setFields are a rule's lists whose order means nothing to Cilium: its
// peers, port entries and ICMP fields are unions.
var setFields = map[string]bool{
	"fromEndpoints": true, "toEndpoints": true, "fromEntities": true, "toEntities": true,
	"fromCIDR": true, "toCIDR": true, "fromCIDRSet": true, "toCIDRSet": true, "toFQDNs": true,
	"fromNodes": true, "toNodes": true, "fromRequires": true, "toRequires": true,
	"toServices": true, "fromGroups": true, "toGroups": true, "toPorts": true, "icmps": true,
	"ports": true, "fields": true,
	// NetworkPolicy: a rule's peers are a union too.
	"from": true, "to": true,
	// L7 rules: a request is allowed when any of them matches.
	"http": true, "dns": true, "kafka": true, "l7": true,
}

// canonicalRule spells a rule the one way for what Cilium enforces the
// same: the lists that are unions sorted; a port's protocol upper case
// (Cilium parses it case-insensitively) and ANY when absent; a numeric
// port without leading zeros; everything else as written.
func canonicalRule(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = canonicalRule(e)
			if xs, ok := out[k].([]any); ok && setFields[k] {
				sort.SliceStable(xs, func(i, j int) bool { return canonical(xs[i]) < canonical(xs[j]) })
			}
		}
		if port, ok := out["port"].(string); ok {
			if n, err := strconv.ParseUint(port, 10, 16); err == nil {
				out["port"] = strconv.FormatUint(n, 10)
			} else {
				out["port"] = strings.ToLower(port) // a named port: IANA names are case-insensitive
			}
			proto, _ := out["protocol"].(string)
			if proto == "" {
				proto = "ANY"
			}
			out["protocol"] = strings.ToUpper(proto)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = canonicalRule(e)
		}
		return out
	}
	return v
}

// canonical is v as JSON with sorted keys (encoding/json sorts map keys).
func canonical(v any) string {
	if v == nil {
		return "{}"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// sortedRules lists the rules of a that b lacks, ordered.
func sortedRules(a, b map[Rule]bool) []Rule {
	out := []Rule{}
	for r := range a {
		if !b[r] {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		x, y := out[i], out[j]
		if x.Selector != y.Selector {
			return x.Selector < y.Selector
		}
		if x.Section != y.Section {
			return sectionOrder(x.Section) < sectionOrder(y.Section)
		}
		return x.Rule < y.Rule
	})
	return out
}

func sectionOrder(s string) int {
	for i, x := range sections {
		if x == s {
			return i
		}
	}
	return len(sections)
}

func settingChanges(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok {
			out = append(out, fmt.Sprintf("%s: %s -> (none)", k, v))
		} else if w != v {
			out = append(out, fmt.Sprintf("%s: %s -> %s", k, v, w))
		}
	}
	for k, w := range b {
		if _, ok := a[k]; !ok {
			out = append(out, fmt.Sprintf("%s: (none) -> %s", k, w))
		}
	}
	sort.Strings(out)
	return out
}

// VerdictChange is an observed connection whose verdict differs between
// the sets.
type VerdictChange struct {
	Edge  *ir.Edge `json:"-"`
	ID    string   `json:"id"`
	Src   string   `json:"src"`
	Dst   string   `json:"dst"`
	Proto string   `json:"protocol"`
	Port  uint16   `json:"port"`
	Flows int64    `json:"flows"`
	// NowAllowed: denied by the old set, allowed by the new one
	// (otherwise the reverse: newly denied).
	NowAllowed bool `json:"nowAllowed"`
	// Old and New are the verdicts with the rules behind them.
	Old replay.Verdict `json:"-"`
	New replay.Verdict `json:"-"`
}

// CompareVerdicts compares the replays of the same connections under the old and
// the new set and adds the connections whose verdict changed to r.
func (r *Result) CompareVerdicts(old, new *replay.Report) {
	before := map[string]replay.Result{}
	for _, x := range old.Results {
		before[x.Edge.ID] = x
	}
	r.Replayed = len(new.Results)
	r.Verdicts = nil
	for _, x := range new.Results {
		b, ok := before[x.Edge.ID]
		if !ok || b.Verdict.Allowed() == x.Verdict.Allowed() {
			continue
		}
		e := x.Edge
		r.Verdicts = append(r.Verdicts, VerdictChange{Edge: e, ID: e.ID, Src: e.Src, Dst: e.Dst, Proto: e.Protocol, Port: e.Port,
			Flows: x.Flows, NowAllowed: x.Verdict.Allowed(), Old: b.Verdict, New: x.Verdict})
	}
}

// RuleKey is a rule's identity for what Cilium enforces: two rules with
// the same key allow the same (see canonicalRule).
func RuleKey(rule any) string { return canonical(canonicalRule(rule)) }
