// Package synth turns the rule packs' decisions into Cilium's own
// CiliumNetworkPolicy objects: rules are decoded strictly into
// pkg/policy/api types (an unknown or misspelt field is an error, never
// dropped), names and order are deterministic, and each policy carries its
// provenance (flows, first and last seen) as annotations.
package synth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	"github.com/cilium/cilium/pkg/policy/api"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/policypilot/ppc/internal/parallel"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/rules"
)

// Annotation keys ppc sets on every policy.
const (
	AnnotationFlows     = "ppc.policypilot.io/flows"
	AnnotationEdges     = "ppc.policypilot.io/connections"
	AnnotationFirstSeen = "ppc.policypilot.io/first-seen"
	AnnotationLastSeen  = "ppc.policypilot.io/last-seen"
	// AnnotationIntent says why a policy selects what it selects (lint's
	// CIL002 reads it).
	AnnotationIntent = "ppc.policypilot.io/intent"
)

// Policy is one synthesised policy.
type Policy struct {
	Key string // namespace/name, or cluster/namespace/name
	// Cluster is set when the flows span several clusters: the policy is
	// for the workloads of this one (written under its own directory).
	Cluster string
	// CNP is the policy as Cilium's type. It is read-only: its peer
	// selectors are shared with other policies (peerSelectors); change a
	// DeepCopy. Once the policy is encoded as the document that is
	// verified, replayed and written, a compile keeps only its metadata
	// (see DropSpecs): the document holds the rules.
	CNP *ciliumv2.CiliumNetworkPolicy
	// NP is set when the policy is written as a Kubernetes NetworkPolicy
	// (compile --target kubernetes|auto; see NetworkPolicyOf): it is what
	// is verified, replayed and written, CNP what it was translated from.
	NP *networkingv1.NetworkPolicy
	// CCNP is set for a clusterwide policy (a baseline for every
	// endpoint): it is what is written; CNP holds the same metadata and
	// rules (namespace "") for what reads every policy alike.
	CCNP     *ciliumv2.CiliumClusterwideNetworkPolicy
	Decision *rules.PolicyDecision
	// Connections counts the IR edges the policy allows (ingress and
	// egress; the decision lists them), Flows their connections.
	Connections int
	Flows       int64
	// IngressRules and EgressRules count the rules of CNP's spec.
	IngressRules, EgressRules int
}

// DropSpecs lets go of the policy's rules as Cilium's and Kubernetes'
// types once its document is encoded: CNP, CCNP and NP keep their type
// and object metadata, not their specs. At 5,000 policies the specs were
// 90 MB that verify, replay and the write never read (they read the
// documents), beside the documents themselves.
func (p *Policy) DropSpecs() {
	p.CNP = &ciliumv2.CiliumNetworkPolicy{TypeMeta: p.CNP.TypeMeta, ObjectMeta: p.CNP.ObjectMeta}
	if p.CCNP != nil {
		p.CCNP = &ciliumv2.CiliumClusterwideNetworkPolicy{TypeMeta: p.CCNP.TypeMeta, ObjectMeta: p.CCNP.ObjectMeta}
	}
	if p.NP != nil {
		p.NP = &networkingv1.NetworkPolicy{TypeMeta: p.NP.TypeMeta, ObjectMeta: p.NP.ObjectMeta}
	}
}

// Policies builds the policies, sorted by namespace and name.
func Policies(g *ir.Graph, d *rules.Decisions) ([]*Policy, ir.Diagnostics) {
	var out []*Policy
	var ds ir.Diagnostics
	keys := make([]string, 0, len(d.Policies))
	for k := range d.Policies {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	built := make([]*Policy, len(keys))
	diags := make([]ir.Diagnostics, len(keys))
	peers := &peerSelectors{m: map[string]api.EndpointSelector{}}
	parallel.For(context.Background(), len(keys), func(i int) { built[i], diags[i] = build(g, keys[i], d.Policies[keys[i]], peers) })
	for i := range keys {
		ds = append(ds, diags[i]...)
		if built[i] != nil {
			out = append(out, built[i])
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].CNP, out[j].CNP
		if out[i].Cluster != out[j].Cluster {
			return out[i].Cluster < out[j].Cluster
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return out, ds
}

func build(g *ir.Graph, key string, pd *rules.PolicyDecision, peers *peerSelectors) (*Policy, ir.Diagnostics) {
	var ds ir.Diagnostics
	bad := func(path []string, format string, args ...any) {
		d := ir.Errorf("ppc_synth_error", ir.Pos{}, format, args...)
		d.Stage = "synthesize"
		d.Object = key
		d.Path = path
		ds = append(ds, d)
	}
	switch {
	case pd.Name == "" || pd.Namespace == "" && !pd.Clusterwide:
		bad(nil, "rule packs produced a policy without namespace or name")
		return nil, ds
	case pd.Clusterwide && (pd.Namespace != "" || pd.Cluster != "" || key != pd.Name):
		bad(nil, "rule packs produced a clusterwide policy with a namespace or cluster, or under a key other than its name")
		return nil, ds
	}
	cluster := ""
	if want := pd.Namespace + "/" + pd.Name; want != key && !pd.Clusterwide {
		if pd.Cluster == "" || pd.Cluster+"/"+want != key {
			bad(nil, "policy key %q does not match its namespace and name (%s), or cluster, namespace and name", key, want)
		}
		cluster = pd.Cluster
	}
	spec := &api.Rule{EndpointSelector: api.NewESFromMatchRequirements(pd.Selector, nil)}
	if dd := pd.DefaultDeny; dd != nil {
		spec.EnableDefaultDeny = api.DefaultDenyConfig{Ingress: dd.Ingress, Egress: dd.Egress}
	}
	for i, raw := range pd.Ingress {
		var r api.IngressRule
		if err := strictDecode(raw, &r); err != nil {
			bad([]string{"spec", "ingress", fmt.Sprintf("[%d]", i)}, "rule packs produced an invalid ingress rule: %v", err)
			continue
		}
		peers.share(r.FromEndpoints)
		spec.Ingress = append(spec.Ingress, r)
	}
	for i, raw := range pd.Egress {
		var r api.EgressRule
		if err := strictDecode(raw, &r); err != nil {
			bad([]string{"spec", "egress", fmt.Sprintf("[%d]", i)}, "rule packs produced an invalid egress rule: %v", err)
			continue
		}
		peers.share(r.ToEndpoints)
		spec.Egress = append(spec.Egress, r)
	}
	if len(ds) > 0 {
		return nil, ds
	}
	p := &Policy{Key: key, Cluster: cluster, Decision: pd}
	var first, last time.Time
	seen := map[string]bool{}
	for _, id := range append(append([]string(nil), pd.IngressEdges...), pd.EgressEdges...) {
		if seen[id] {
			continue
		}
		seen[id] = true
		e, ok := g.Edges[id]
		if !ok {
			bad(nil, "rule packs name edge %q, which is not in the IR", id)
			continue
		}
		p.Connections++
		p.Flows += e.Flows()
		if !e.FirstSeen.IsZero() && (first.IsZero() || e.FirstSeen.Before(first)) {
			first = e.FirstSeen
		}
		if e.LastSeen.After(last) {
			last = e.LastSeen
		}
	}
	ann := map[string]string{
		AnnotationFlows: strconv.FormatInt(p.Flows, 10),
		AnnotationEdges: strconv.Itoa(p.Connections),
	}
	if !first.IsZero() {
		ann[AnnotationFirstSeen] = first.UTC().Format(time.RFC3339)
		ann[AnnotationLastSeen] = last.UTC().Format(time.RFC3339)
	}
	var labels map[string]string
	if len(pd.Labels) > 0 {
		labels = pd.Labels
	}
	p.CNP = &ciliumv2.CiliumNetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "cilium.io/v2", Kind: "CiliumNetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: pd.Name, Namespace: pd.Namespace, Labels: labels, Annotations: ann},
		Spec:       spec,
	}
	p.IngressRules, p.EgressRules = len(spec.Ingress), len(spec.Egress)
	if pd.Clusterwide {
		ann[AnnotationIntent] = "a baseline for every endpoint of the cluster, written by ppc's rule packs; it isolates nothing by itself (enableDefaultDeny false)"
		p.CCNP = &ciliumv2.CiliumClusterwideNetworkPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: "cilium.io/v2", Kind: "CiliumClusterwideNetworkPolicy"},
			ObjectMeta: metav1.ObjectMeta{Name: pd.Name, Labels: labels, Annotations: ann},
			Spec:       spec,
		}
	}
	return p, ds
}

// peerSelectors makes the peer selectors of the policies that select
// the same labels share one label selector: a workload is the peer of
// many policies (5,000 policies of 70 peers a side held 700k selectors,
// a third of the compile's live heap while it verified and replayed, for
// 5,000 distinct ones). Only selectors of matchLabels alone are shared,
// keyed by their sorted labels. A Policy's CNP is therefore read-only:
// whatever changes one changes a DeepCopy (as replay does before Cilium's
// parser, which rewrites selectors). Safe for concurrent use.
type peerSelectors struct {
	mu sync.Mutex
	m  map[string]api.EndpointSelector
}

// share replaces each selector of sels with the one shared by the
// selectors of the same labels.
func (p *peerSelectors) share(sels []api.EndpointSelector) {
	var key []byte
	var ks []string
	for i, s := range sels {
		if s.LabelSelector == nil || len(s.MatchExpressions) > 0 {
			continue
		}
		ks = ks[:0]
		for k := range s.MatchLabels {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		key = key[:0]
		for _, k := range ks {
			key = append(append(append(append(key, k...), 0), s.MatchLabels[k]...), 0)
		}
		p.mu.Lock()
		if c, ok := p.m[string(key)]; ok {
			sels[i] = c
		} else {
			p.m[string(key)] = s
		}
		p.mu.Unlock()
	}
}

func strictDecode(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// JSON renders a policy as the canonical JSON document ppc verifies and
// writes: Kubernetes' fields that are empty on creation (creationTimestamp,
// status) are dropped, every object's keys are sorted.
func JSON(cnp *ciliumv2.CiliumNetworkPolicy) ([]byte, error) { return canonicalJSON(cnp) }

// ClusterwideJSON is JSON for a CiliumClusterwideNetworkPolicy.
func ClusterwideJSON(ccnp *ciliumv2.CiliumClusterwideNetworkPolicy) ([]byte, error) {
	return canonicalJSON(ccnp)
}

// canonicalJSON is v's JSON without status and creationTimestamp, keys
// sorted.
func canonicalJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	return json.Marshal(m)
}
