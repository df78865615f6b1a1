package compiler

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/ir"
)

// Recommendation kinds.
const (
	RecOverAllow   = "over_allow"    // a policy allows much the flows never show
	RecSinglePod   = "single_pod"    // a selector that picks one pod or one rollout of a workload
	RecWorldToFQDN = "world_to_fqdn" // world egress by address that should become toFQDNs
	RecPortLimit   = "port_limit"    // a toPorts entry near Cilium's 40-port limit
	RecChangedMost = "changed_most"  // a workload whose traffic changed most since the baseline
)

const (
	maxRecommendation = 5                 // of each kind that ranks (over-allow, changed most)
	portLimit         = 40                // Cilium's maximum of ports in one toPorts entry (maxPorts)
	portLimitNear     = portLimit * 4 / 5 // a toPorts entry this full is near it
)

// Recommendation is a change a reviewer should consider next to the
// policies.
type Recommendation struct {
	Kind string `json:"kind"`
	// Policy is the policy concerned ("namespace/name"), if any; Subject
	// the IR node, if any.
	Policy  string `json:"policy,omitempty"`
	Subject string `json:"subject,omitempty"`
	Msg     string `json:"msg"`
}

// RecommendInput is what recommendations are drawn from.
type RecommendInput struct {
	Graph    *ir.Graph
	Baseline *ir.Graph // nil: no comparison
	// Policies are the policy documents (compiled or read).
	Policies  []manifest.Object
	Probe     *replay.ProbeReport
	Anomalies *AnomalyReport
}

// perPodKeys are labels that single out one pod (or one rollout) of a
// workload: a selector on them misses the other replicas, or the next
// rollout's pods.
var perPodKeys = map[string]string{
	"statefulset.kubernetes.io/pod-name": "one pod of the StatefulSet",
	"apps.kubernetes.io/pod-index":       "one pod of the StatefulSet",
	"pod-template-hash":                  "one ReplicaSet: the next rollout's pods have another hash",
	"controller-revision-hash":           "one revision: the next rollout's pods have another hash",
	"pod-template-generation":            "one DaemonSet generation",
}

// Recommend draws the recommendations, in a fixed order: over-allow,
// single-pod selectors, port lists near the limit, world egress for
// toFQDNs, change since the baseline.
func Recommend(in RecommendInput) []Recommendation {
	var out []Recommendation
	names := map[string]string{}
	if in.Graph != nil {
		names = in.Graph.DisplayNames()
	}
	name := func(id string) string {
		if n := names[id]; n != "" {
			return n
		}
		return id
	}
	if p := in.Probe; p != nil {
		for i, c := range p.ByPolicy {
			if i == maxRecommendation || c.Allowed == 0 {
				break
			}
			ex := ""
			if len(c.Examples) > 0 {
				h := c.Examples[0]
				ex = fmt.Sprintf(" (e.g. %s → %s %s/%d)", name(h.Src), name(h.Dst), h.Protocol, h.Port)
			}
			out = append(out, Recommendation{Kind: RecOverAllow, Policy: c.Policy,
				Msg: fmt.Sprintf("%s allows %d connections the flows never show%s: narrow its peers or ports, or confirm they are wanted", c.Policy, c.Allowed, ex)})
		}
	}
	out = append(out, policyRecommendations(in.Policies)...)
	if in.Anomalies != nil {
		for _, f := range in.Anomalies.Findings {
			if f.Detector == "world_no_dns" {
				out = append(out, Recommendation{Kind: RecWorldToFQDN, Subject: f.Subject,
					Msg: fmt.Sprintf("%s reaches addresses outside the cluster by address only: with the lookups visible to Cilium's DNS proxy (a DNS rule in its egress), learn again and they become toFQDNs rules that follow the service's addresses", name(f.Subject))})
			}
		}
	}
	if in.Baseline != nil && in.Graph != nil {
		out = append(out, changedMost(in.Graph, in.Baseline, name)...)
	}
	return out
}

// policyDoc is what recommendations read of a policy document.
type policyDoc struct {
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec  *policySpec  `json:"spec"`
	Specs []policySpec `json:"specs"`
}

type policySpec struct {
	EndpointSelector *struct {
		MatchLabels      map[string]string `json:"matchLabels"`
		MatchExpressions []struct {
			Key string `json:"key"`
		} `json:"matchExpressions"`
	} `json:"endpointSelector"`
	Ingress     []policyRule `json:"ingress"`
	IngressDeny []policyRule `json:"ingressDeny"`
	Egress      []policyRule `json:"egress"`
	EgressDeny  []policyRule `json:"egressDeny"`
}

type policyRule struct {
	ToPorts []struct {
		Ports []json.RawMessage `json:"ports"`
	} `json:"toPorts"`
}

func policyRecommendations(objs []manifest.Object) []Recommendation {
	var out []Recommendation
	for _, o := range objs {
		var d policyDoc
		if json.Unmarshal(o.JSON, &d) != nil {
			continue // verification reports it
		}
		pol := d.Metadata.Name
		if d.Metadata.Namespace != "" {
			pol = d.Metadata.Namespace + "/" + pol
		}
		specs := d.Specs
		if d.Spec != nil {
			specs = append([]policySpec{*d.Spec}, specs...)
		}
		for si, s := range specs {
			at := "spec"
			if d.Spec == nil || si > 0 {
				at = fmt.Sprintf("specs[%d]", si-btoi(d.Spec != nil))
			}
			if sel := s.EndpointSelector; sel != nil {
				var keys []string
				for k := range sel.MatchLabels {
					keys = append(keys, k)
				}
				for _, x := range sel.MatchExpressions {
					keys = append(keys, x.Key)
				}
				sort.Strings(keys)
				for _, k := range keys {
					if why, ok := perPodKeys[strings.TrimPrefix(strings.TrimPrefix(k, "k8s:"), "any:")]; ok {
						out = append(out, Recommendation{Kind: RecSinglePod, Policy: pol,
							Msg: fmt.Sprintf("%s: %s.endpointSelector uses %s, which selects %s; select on the workload's own labels (app, app.kubernetes.io/name)", pol, at, k, why)})
					}
				}
			}
			for _, sec := range []struct {
				name  string
				rules []policyRule
			}{{"ingress", s.Ingress}, {"ingressDeny", s.IngressDeny}, {"egress", s.Egress}, {"egressDeny", s.EgressDeny}} {
				for ri, r := range sec.rules {
					for pi, tp := range r.ToPorts {
						if n := len(tp.Ports); n >= portLimitNear {
							out = append(out, Recommendation{Kind: RecPortLimit, Policy: pol,
								Msg: fmt.Sprintf("%s: %s.%s[%d].toPorts[%d] lists %d ports, near Cilium's limit of %d per entry: use a port range (endPort) or split the rule before the next port is added", pol, at, sec.name, ri, pi, n, portLimit)})
						}
					}
				}
			}
		}
	}
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// changedMost ranks the workloads by connections new since the baseline
// plus connections gone.
func changedMost(g, base *ir.Graph, name func(string) string) []Recommendation {
	type change struct{ added, gone int }
	by := map[string]*change{}
	bump := func(e *ir.Edge, added bool, nodes func(string) *ir.Node) {
		for _, id := range []string{e.Src, e.Dst} {
			if n := nodes(id); n == nil || n.Kind != ir.KindWorkload {
				continue
			}
			c := by[id]
			if c == nil {
				c = &change{}
				by[id] = c
			}
			if added {
				c.added++
			} else {
				c.gone++
			}
		}
	}
	for id, e := range g.Edges {
		if base.Edges[id] == nil {
			bump(e, true, g.Node)
		}
	}
	for id, e := range base.Edges {
		if g.Edges[id] == nil {
			bump(e, false, base.Node)
		}
	}
	ids := make([]string, 0, len(by))
	for id := range by {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := by[ids[i]], by[ids[j]]
		if a.added+a.gone != b.added+b.gone {
			return a.added+a.gone > b.added+b.gone
		}
		return ids[i] < ids[j]
	})
	var out []Recommendation
	for i, id := range ids {
		if i == maxRecommendation {
			break
		}
		c := by[id]
		out = append(out, Recommendation{Kind: RecChangedMost, Subject: id,
			Msg: fmt.Sprintf("%s: %d connections new since the baseline, %d gone: review its rules first", name(id), c.added, c.gone)})
	}
	return out
}
