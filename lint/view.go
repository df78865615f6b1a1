package lint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Cilium enforces, for each endpoint, the union of every policy whose
// subject selects it (pkg/policy/repository.go: the rules whose subject
// selector matches the endpoint's identity are resolved together). A rule
// whose meaning is per endpoint — "toFQDNs works only with a DNS rule",
// "egress is default-deny and allows no DNS" — must therefore be judged on
// that union, not on one file. This file builds the view lint packs get
// as input.ppc.

// Methods of deciding which policies select which workloads.
const (
	// MethodFlows: the workloads seen in flows, each matched against
	// every policy's subject with Cilium's own selector matching.
	MethodFlows = "flows"
	// MethodSelectors: from the selectors alone. Within a namespace, a
	// policy whose subject requirements are a subset of another's
	// selects every pod the other does (an empty endpointSelector all of
	// them); a clusterwide policy's requirements carry no namespace.
	// Sound but partial: a policy that selects the same pods in another
	// way (matchExpressions In, different labels) is not seen.
	MethodSelectors = "selectors"
)

// View is which policies apply to which workloads, decided with flows
// (NewFlowView from package compiler). Without one, Lint derives the view
// of each policy from the selectors (MethodSelectors).
type View struct {
	Workloads []Workload
}

// Workload is one workload of a view and the policies that select it.
type Workload struct {
	// Name is the workload's name ("namespace/name").
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels"`
	// Specs are the rule bodies whose subject selects it, sorted by
	// policy and path.
	Specs []SpecRef `json:"specs"`
	// Serves are the ports the flows show it serving, sorted by protocol
	// and port (flow views only).
	Serves []Served `json:"serves,omitempty"`
}

// Served is one port a workload serves, as the flows show it.
type Served struct {
	Protocol string `json:"protocol"`
	Port     int    `json:"port"`
	// Connections to it in all; HTTP those whose every request Hubble
	// recorded (HTTP visible to the proxy), Other the rest (not HTTP, or
	// not visible).
	Connections int64 `json:"connections"`
	HTTP        int64 `json:"http"`
	Other       int64 `json:"other"`
}

// SpecRef names one rule body of a policy: its spec, or one of its specs.
type SpecRef struct {
	// Policy is "namespace/name", or the name of a clusterwide policy.
	Policy string `json:"policy"`
	// Path is "spec" or "specs[i]".
	Path string `json:"path"`
}

// policies lists the distinct policies of w's specs, sorted.
func (w Workload) policies() []string {
	var out []string
	for _, s := range w.Specs {
		if len(out) == 0 || out[len(out)-1] != s.Policy {
			out = append(out, s.Policy)
		}
	}
	return out
}

// setPolicy is one policy of the set as the view sees it.
type setPolicy struct {
	name    string
	obj     map[string]any
	specs   []spec // spec and specs[i]
	kind    string
	ns      string
	enforce bool // loaded by the cluster (verification passed)
}

// spec is one rule body of a policy and its path ("spec", "specs[0]").
type spec struct {
	path string
	m    map[string]any
}

// policySet indexes the policies of one lint run by name (a policy
// defined twice: the last one, as kubectl apply keeps it).
type policySet struct {
	byName map[string]*setPolicy
	names  []string
}

func newPolicySet() *policySet { return &policySet{byName: map[string]*setPolicy{}} }

func (s *policySet) add(name, kind, ns string, obj map[string]any, enforced bool) {
	p := &setPolicy{name: name, obj: obj, kind: kind, ns: ns, enforce: enforced}
	if m, ok := obj["spec"].(map[string]any); ok {
		p.specs = append(p.specs, spec{"spec", m})
	}
	if specs, ok := obj["specs"].([]any); ok {
		for i, x := range specs {
			if m, ok := x.(map[string]any); ok {
				p.specs = append(p.specs, spec{fmt.Sprintf("specs[%d]", i), m})
			}
		}
	}
	if _, seen := s.byName[name]; !seen {
		s.names = append(s.names, name)
	}
	s.byName[name] = p
}

// subject is the pods one spec of a policy selects, as requirement terms
// ("key=value" of matchLabels, the canonical JSON of each
// matchExpressions entry, and the namespace of a namespaced policy).
type subject struct {
	path   string // of its spec
	terms  map[string]bool
	labels map[string]string // its matchLabels (and namespace), keys without a source
}

// subjects are the pod subjects of a policy's specs (a spec with a
// nodeSelector selects nodes, not pods).
func (p *setPolicy) subjects() []subject {
	var out []subject
	for _, sp := range p.specs {
		sel, ok := sp.m["endpointSelector"].(map[string]any)
		if !ok {
			continue
		}
		sub := subject{path: sp.path, terms: map[string]bool{}, labels: map[string]string{}}
		if p.kind == "CiliumNetworkPolicy" {
			sub.terms[namespaceLabel+"="+p.ns] = true
			sub.labels[namespaceLabel] = p.ns
		}
		if ml, ok := sel["matchLabels"].(map[string]any); ok {
			for k, v := range ml {
				s, _ := v.(string)
				k = plainKey(k)
				sub.terms[k+"="+s] = true
				sub.labels[k] = s
			}
		}
		if me, ok := sel["matchExpressions"].([]any); ok {
			for _, x := range me {
				sub.terms[expressionTerm(x)] = true
			}
		}
		out = append(out, sub)
	}
	return out
}

const namespaceLabel = "io.kubernetes.pod.namespace"

// plainKey drops a label key's source ("k8s:", "any:"): a pod's labels
// come from Kubernetes, and Cilium matches "any" against every source.
func plainKey(k string) string {
	for _, p := range []string{"k8s:", "any:", "k8s.", "any."} {
		if strings.HasPrefix(k, p) {
			return k[len(p):]
		}
	}
	return k
}

// expressionTerm is the canonical form of a matchExpressions entry.
func expressionTerm(x any) string {
	m, _ := x.(map[string]any)
	key, _ := m["key"].(string)
	op, _ := m["operator"].(string)
	var vals []string
	if vs, ok := m["values"].([]any); ok {
		for _, v := range vs {
			s, _ := v.(string)
			vals = append(vals, s)
		}
	}
	sort.Strings(vals)
	b, _ := json.Marshal([]any{plainKey(key), op, vals})
	return "expr:" + string(b)
}

// covers reports whether every pod sub selects is selected by q: q's
// requirements are a subset of sub's.
func (sub subject) coveredBy(q subject) bool {
	for t := range q.terms {
		if !sub.terms[t] {
			return false
		}
	}
	return true
}

// selectorWorkloads is the selectors method's view of policy p: one
// workload per pod subject of p (the pods one of its specs selects), with
// every enforced spec of the set that selects all of them.
func (s *policySet) selectorWorkloads(p *setPolicy) []Workload {
	var out []Workload
	for _, sub := range p.subjects() {
		w := Workload{Name: fmt.Sprintf("the pods %s.%s selects", p.name, sub.path), Namespace: p.ns, Labels: sub.labels}
		for _, name := range s.names {
			q := s.byName[name]
			if q != p && !q.enforce {
				continue
			}
			for _, qs := range q.subjects() {
				if sub.coveredBy(qs) {
					w.Specs = append(w.Specs, SpecRef{name, qs.path})
				}
			}
		}
		sortSpecs(w.Specs)
		out = append(out, w)
	}
	return out
}

func sortSpecs(ss []SpecRef) {
	sort.Slice(ss, func(i, j int) bool {
		if ss[i].Policy != ss[j].Policy {
			return ss[i].Policy < ss[j].Policy
		}
		return ss[i].Path < ss[j].Path
	})
}

// input is what lint packs see of the set for policy p (input.ppc): the
// method, and the workloads p selects, each with the rule bodies of every
// enforced policy that selects it (p's own included).
func (s *policySet) input(p *setPolicy, view *View) map[string]any {
	method := MethodSelectors
	var ws []Workload
	if view != nil {
		for _, w := range view.Workloads {
			for _, sp := range w.Specs {
				if sp.Policy == p.name {
					ws = append(ws, w)
					break
				}
			}
		}
	}
	if len(ws) > 0 {
		method = MethodFlows
	} else {
		ws = s.selectorWorkloads(p)
	}
	wl := []any{}
	for _, w := range ws {
		names := []any{}
		specs := []any{}
		for _, sp := range w.Specs {
			q := s.byName[sp.Policy]
			if q == nil || (!q.enforce && q != p) {
				continue
			}
			for _, x := range q.specs {
				if x.path == sp.Path {
					specs = append(specs, map[string]any{"policy": sp.Policy, "path": sp.Path, "spec": x.m})
				}
			}
		}
		for _, n := range w.policies() {
			if q := s.byName[n]; q != nil && (q.enforce || q == p) {
				names = append(names, n)
			}
		}
		labels := map[string]any{}
		for k, v := range w.Labels {
			labels[k] = v
		}
		serves := []any{}
		for _, x := range w.Serves {
			serves = append(serves, map[string]any{"protocol": x.Protocol, "port": json.Number(fmt.Sprint(x.Port)),
				"connections": json.Number(fmt.Sprint(x.Connections)), "http": json.Number(fmt.Sprint(x.HTTP)), "other": json.Number(fmt.Sprint(x.Other))})
		}
		wl = append(wl, map[string]any{"name": w.Name, "namespace": w.Namespace, "labels": labels, "policies": names, "specs": specs, "serves": serves})
	}
	out := map[string]any{"method": method, "workloads": wl}
	if method == MethodFlows {
		out["unselected"] = unselected(p, view)
	}
	return out
}

// unselected are the workloads of the flows in p's namespace that no
// policy selects, while others there are: given to one policy per
// namespace (the first by name that selects a workload there), so that a
// rule reports them once.
func unselected(p *setPolicy, view *View) []any {
	first := ""
	for _, w := range view.Workloads {
		if w.Namespace != p.ns {
			continue
		}
		for _, sp := range w.Specs {
			if strings.HasPrefix(sp.Policy, p.ns+"/") && (first == "" || sp.Policy < first) {
				first = sp.Policy
			}
		}
	}
	out := []any{}
	if first != p.name {
		return out
	}
	for _, w := range view.Workloads {
		if w.Namespace == p.ns && len(w.Specs) == 0 {
			labels := map[string]any{}
			for k, v := range w.Labels {
				labels[k] = v
			}
			out = append(out, map[string]any{"name": w.Name, "namespace": w.Namespace, "labels": labels})
		}
	}
	return out
}

// decodeObject decodes a policy's JSON as lint packs see it (numbers as
// json.Number).
func decodeObject(b []byte) (map[string]any, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}
