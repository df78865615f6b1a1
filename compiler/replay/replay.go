// Package replay checks observed connections against a set of policies
// with Cilium's own policy engine: policies are loaded into a
// policy.Repository the way the agent imports them (Parse,
// RulesToPolicyEntries, ReplaceByResource), identities are built the way
// the agent builds them (the cluster label on pods, scope-correct numeric
// IDs, longest-prefix CIDR identities, fqdn: labels for DNS names seen in
// the flows), and each identity's distilled policy is computed once and
// cached, so a verdict is two map lookups.
package replay

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/cilium/cilium/pkg/fqdn/dns"

	cmtypes "github.com/cilium/cilium/pkg/clustermesh/types"
	"github.com/cilium/cilium/pkg/endpoint/regeneration"
	envoypolicy "github.com/cilium/cilium/pkg/envoy/policy"
	"github.com/cilium/cilium/pkg/identity"
	"github.com/cilium/cilium/pkg/identity/identitymanager"
	ipcachetypes "github.com/cilium/cilium/pkg/ipcache/types"
	"github.com/cilium/cilium/pkg/k8s"
	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	slimnetv1 "github.com/cilium/cilium/pkg/k8s/slim/k8s/api/networking/v1"
	"github.com/cilium/cilium/pkg/labels"
	"github.com/cilium/cilium/pkg/policy"
	"github.com/cilium/cilium/pkg/policy/api"
	"github.com/cilium/cilium/pkg/policy/types"
	policyutils "github.com/cilium/cilium/pkg/policy/utils"
	"github.com/cilium/cilium/pkg/u8proto"

	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/ir"
)

// Decision is a verdict at one enforcement point (a byte: a replay holds
// two per connection, hundreds of thousands of them).
type Decision uint8

// Decisions. NotApplicable: the endpoint is not a Cilium-managed workload
// (world, host, …), so no policy is enforced there.
const (
	NotApplicable Decision = iota
	Allowed
	Denied
)

// String names the decision.
func (d Decision) String() string {
	return [...]string{"n/a", "allowed", "denied"}[d]
}

// RuleRef names one rule of a policy: Policy is "namespace/name" (or
// "name" for a clusterwide policy), Path the rule's place in it, e.g.
// "spec.egress[2]" or "specs[1].ingressDeny[0]".
type RuleRef struct {
	Policy string `json:"policy"`
	Path   string `json:"rule"`
}

// String formats the reference as "policy spec.egress[2]".
func (r RuleRef) String() string { return r.Policy + " " + r.Path }

// L7 is the L7 policy the proxy applies to an allowed connection: the
// parser (http, dns, kafka, …) and the rules, as written in the policy.
type L7 struct {
	Parser string      `json:"parser"`
	Rules  api.L7Rules `json:"rules"`
	// By are the rules the L7 policy comes from.
	By []RuleRef `json:"by,omitempty"`
}

// Point is the verdict at one enforcement point (the source's egress or
// the destination's ingress).
type Point struct {
	Decision Decision
	// Proxy: allowed at L4 and redirected to the L7 proxy, which decides
	// per request with the L7 policies (L7).
	Proxy bool
	// why holds the rules and L7 policies behind the verdict (nil: none),
	// shared between points and read-only: a replay holds two points per
	// connection, which two slices made 56 bytes each instead of 16.
	why *pointWhy
}

type pointWhy struct {
	by []RuleRef
	l7 []L7
}

// NewPoint returns the point of a decision, whether the L7 proxy decides
// (proxy), the rules behind it and the L7 policies the proxy applies.
func NewPoint(d Decision, proxy bool, by []RuleRef, l7 []L7) Point {
	p := Point{Decision: d, Proxy: proxy}
	if len(by) > 0 || len(l7) > 0 {
		p.why = &pointWhy{by: by, l7: l7}
	}
	return p
}

// By are the rules behind the verdict as Cilium attributes it: the
// allow rules of an allowed connection, the deny rules of an explicitly
// denied one; empty when the default deny decided. Read-only.
func (p Point) By() []RuleRef {
	if p.why == nil {
		return nil
	}
	return p.why.by
}

// L7 are the L7 policies the proxy applies to a proxied connection (as
// Check and Replay give them; the probe leaves them out). Read-only.
func (p Point) L7() []L7 {
	if p.why == nil {
		return nil
	}
	return p.why.l7
}

// Policies are the distinct policies of p.By, sorted.
func (p Point) Policies() []string {
	var out []string
	for _, r := range p.By() {
		if len(out) == 0 || out[len(out)-1] != r.Policy {
			out = append(out, r.Policy)
		}
	}
	return out
}

// Verdict is the engine's answer for one connection.
type Verdict struct {
	Egress, Ingress Point
}

// Allowed reports whether both enforcement points allow the connection.
func (v Verdict) Allowed() bool { return v.Egress.Decision != Denied && v.Ingress.Decision != Denied }

// Proxied reports whether an L7 proxy decides at either point.
func (v Verdict) Proxied() bool { return v.Egress.Proxy || v.Ingress.Proxy }

// Rules are the rules of both points, sorted and without duplicates.
func (v Verdict) Rules() []RuleRef {
	return mergeRefs(v.Egress.By(), v.Ingress.By())
}

// Engine is Cilium's policy engine loaded with policies and identities.
type Engine struct {
	cluster string
	// only, when set, limits enforcement to the workloads of this cluster
	// (ClusterMesh: each cluster's agents enforce its own policies).
	only string
	// anyCluster: selectors without a cluster label select every cluster
	// (the agent's --policy-default-local-cluster=false).
	anyCluster bool
	logger     *slog.Logger
	repo       *policy.Repository
	idmgr      identitymanager.IDManager

	prefixes []netip.Prefix
	fqdns    []*api.FQDNSelector
	// selectors holds one of each label selector the entries use, by key
	// (see intern).
	selectors map[string]*types.LabelSelector
	noIntern  bool // tests: keep every selector as Cilium's parser made it
	noAnchor  bool // tests: leave the peer selectors to the policies that use them

	mu      sync.Mutex
	ids     map[string]*identity.Identity // IR node ID -> identity
	byLbls  map[string]*identity.Identity // sorted labels -> identity
	nextPod identity.NumericIdentity
	nextLoc identity.NumericIdentity
	cache   map[identity.NumericIdentity]*distilled
	sealed  bool

	policies []PolicyRules
	// peers are the distinct peer selectors of the loaded entries, by key;
	// anchored are their cached selectors once the first pass has
	// anchored them (see anchor).
	peers    map[string]types.Selector
	anchored policy.CachedSelectorSlice
	// resources are the repository's resources, one per loaded policy
	// (Release deletes them).
	resources []ipcachetypes.ResourceID
	subjects  []subject // every entry's subject, with its policy and spec
	refCache  sync.Map  // labels.LabelArrayListString -> []RuleRef
	// batch and pending collect new identities during AddGraph.
	batch   identity.IdentityMap
	pending []*identity.Identity
}

// PolicyRules lists a loaded policy's rules, in the policy's order.
type PolicyRules struct {
	Policy string
	Rules  []string // paths, e.g. "spec.egress[0]"
	// Isolating are the empty rules ({}): they allow nothing and only put
	// the subject in default deny, so they are not among Rules (no flow
	// can exercise them).
	Isolating []string
}

// distilled is an identity's computed policy: the map state and the L7
// policies of its proxy redirects.
type distilled struct {
	id  identity.NumericIdentity
	epp *policy.EndpointPolicy
	l7  []l7Filter
}

// l7Filter is one L4 filter's L7 policy for the peers one selector
// selects, captured while the policy was attached to the selector cache.
type l7Filter struct {
	ingress       bool
	proto         u8proto.U8proto
	port, endPort uint16
	wildcard      bool
	peers         map[identity.NumericIdentity]bool
	l7            L7
}

// New creates an engine with the agent settings applied.
func New(s agent.Settings) (*Engine, error) {
	if err := agent.Apply(s); err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	idmgr := identitymanager.NewIDManager(logger)
	repo := policy.NewPolicyRepository(logger, identity.ListReservedIdentities(), nil, envoypolicy.NewEnvoyL7RulesTranslator(logger, nil), idmgr, nil)
	e := &Engine{
		cluster: s.ClusterName, anyCluster: s.PolicyAnyCluster, logger: logger, repo: repo, idmgr: idmgr,
		ids: map[string]*identity.Identity{}, byLbls: map[string]*identity.Identity{},
		nextPod: identity.MinimalNumericIdentity, nextLoc: identity.IdentityScopeLocal | 1,
		cache: map[identity.NumericIdentity]*distilled{},
	}
	// Reserved identities are subjects too (e.g. health, host).
	reserved := identity.ListReservedIdentities()
	repo.UpdateIdentities(reserved, nil)
	return e, nil
}

// Policy is one policy to load: a CiliumNetworkPolicy, a
// CiliumClusterwideNetworkPolicy or a Kubernetes NetworkPolicy, or
// such a policy as a document (Kind and JSON) that Load decodes.
type Policy struct {
	CNP  *ciliumv2.CiliumNetworkPolicy
	CCNP *ciliumv2.CiliumClusterwideNetworkPolicy
	NP   *slimnetv1.NetworkPolicy
	// Kind and JSON, when CNP, CCNP and NP are nil, are the policy's
	// document: Load decodes it as Decode does, one policy at a time, so
	// that thousands of policies are never held decoded beside what the
	// engine makes of them.
	Kind string
	JSON []byte
}

// Decode decodes a policy object of the given kind from JSON.
func Decode(kind string, js []byte) (Policy, error) {
	switch kind {
	case "CiliumNetworkPolicy":
		var p ciliumv2.CiliumNetworkPolicy
		if err := json.Unmarshal(js, &p); err != nil {
			return Policy{}, err
		}
		return Policy{CNP: &p}, nil
	case "CiliumClusterwideNetworkPolicy":
		var p ciliumv2.CiliumClusterwideNetworkPolicy
		if err := json.Unmarshal(js, &p); err != nil {
			return Policy{}, err
		}
		return Policy{CCNP: &p}, nil
	case "NetworkPolicy":
		var p slimnetv1.NetworkPolicy
		if err := json.Unmarshal(js, &p); err != nil {
			return Policy{}, err
		}
		return Policy{NP: &p}, nil
	}
	return Policy{}, fmt.Errorf("replay: kind %q is not a policy kind Cilium enforces", kind)
}

// Name is "namespace/name" or, for a clusterwide policy, "name".
func (p Policy) Name() string {
	switch {
	case p.CNP != nil:
		return p.CNP.Namespace + "/" + p.CNP.Name
	case p.NP != nil:
		return p.NP.Namespace + "/" + p.NP.Name
	}
	return p.CCNP.Name
}

// Load parses the policies as the agent does and adds them to the
// repository. It must be called before any identity is added.
func (e *Engine) Load(ps []Policy) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sealed {
		return fmt.Errorf("replay: policies must be loaded before identities")
	}
	for _, p := range ps {
		var rules api.Rules
		var err error
		var rid ipcachetypes.ResourceID
		var hasSpec bool
		local := cmtypes.LocalClusterNameForPolicies(cmtypes.PolicyConfig{PolicyDefaultLocalCluster: !e.anyCluster}, e.cluster)
		// Cilium's parsers rewrite what they parse: a policy given as
		// types is parsed as a copy, a document as it is decoded.
		if p.CNP == nil && p.CCNP == nil && p.NP == nil {
			d, err := Decode(p.Kind, p.JSON)
			if err != nil {
				return fmt.Errorf("replay: decode %s: %w", p.Kind, err)
			}
			p = d
		} else {
			p = Policy{CNP: p.CNP.DeepCopy(), CCNP: p.CCNP.DeepCopy(), NP: p.NP.DeepCopy()}
		}
		if p.NP != nil {
			if err := e.loadNetworkPolicy(p, local); err != nil {
				return err
			}
			continue
		}
		if p.CNP != nil {
			rules, err = p.CNP.Parse(e.logger, local)
			rid = ipcachetypes.NewResourceID(ipcachetypes.ResourceKindCNP, p.CNP.Namespace, p.CNP.Name)
			hasSpec = p.CNP.Spec != nil
		} else {
			rules, err = p.CCNP.Parse(e.logger, local)
			rid = ipcachetypes.NewResourceID(ipcachetypes.ResourceKindCCNP, "", p.CCNP.Name)
			hasSpec = p.CCNP.Spec != nil
		}
		if err != nil {
			return fmt.Errorf("replay: policy %s: %w", p.Name(), err)
		}
		entries := policyutils.RulesToPolicyEntries(rules)
		if err := e.add(p.Name(), entries, rulePaths(rules, hasSpec), rid); err != nil {
			return err
		}
	}
	return nil
}

// loadNetworkPolicy translates a Kubernetes NetworkPolicy as the agent
// does (pkg/k8s ParseNetworkPolicy) and adds its entries.
func (e *Engine) loadNetworkPolicy(p Policy, local string) error {
	entries, err := k8s.ParseNetworkPolicy(e.logger, local, p.NP)
	if err != nil {
		return fmt.Errorf("replay: policy %s: %w", p.Name(), err)
	}
	rid := ipcachetypes.NewResourceID(ipcachetypes.ResourceKindNetpol, p.NP.Namespace, p.NP.Name)
	return e.add(p.Name(), entries, netpolPaths(p.NP), rid)
}

// netpolPaths names the entries ParseNetworkPolicy makes, in its order:
// per ingress rule one per from peer (spec.ingress[i].from[j]), or one for
// a rule without peers (spec.ingress[i]); the default-deny entry of a
// policy with no ingress rule (spec.ingress); then egress likewise.
func netpolPaths(np *slimnetv1.NetworkPolicy) []string {
	var out []string
	has := func(t slimnetv1.PolicyType) bool { return slices.Contains(np.Spec.PolicyTypes, t) }
	for i, r := range np.Spec.Ingress {
		if len(r.From) == 0 {
			out = append(out, fmt.Sprintf("spec.ingress[%d]", i))
		}
		for j := range r.From {
			out = append(out, fmt.Sprintf("spec.ingress[%d].from[%d]", i, j))
		}
	}
	if len(np.Spec.Ingress) == 0 && (has(slimnetv1.PolicyTypeIngress) || !has(slimnetv1.PolicyTypeEgress)) {
		out = append(out, "spec.ingress")
	}
	for i, r := range np.Spec.Egress {
		if len(r.To) == 0 {
			out = append(out, fmt.Sprintf("spec.egress[%d]", i))
		}
		for j := range r.To {
			out = append(out, fmt.Sprintf("spec.egress[%d].to[%d]", i, j))
		}
	}
	if len(np.Spec.Egress) == 0 && has(slimnetv1.PolicyTypeEgress) {
		out = append(out, "spec.egress")
	}
	return out
}

// add tags the entries of a policy with their rule paths, records its
// subjects, rules and peers, and adds it to the repository.
func (e *Engine) add(name string, entries types.PolicyEntries, paths []string, rid ipcachetypes.ResourceID) error {
	if len(paths) != len(entries) {
		return fmt.Errorf("replay: policy %s: %d rules became %d policy entries", name, len(paths), len(entries))
	}
	for i, en := range entries {
		// Tag each entry with its rule so that map-state entries say
		// which rule produced them. The label array is shared by a
		// spec's entries: copy it.
		lbls := append(labels.LabelArray{labels.NewLabel(ruleLabelKey, encodePath(paths[i]), labels.LabelSourceUnspec)}, en.Labels...)
		lbls.Sort()
		en.Labels = lbls
	}
	pr := PolicyRules{Policy: name}
	for i, en := range entries {
		spec, _, _ := strings.Cut(paths[i], ".")
		e.subjects = append(e.subjects, subject{SpecRef{pr.Policy, spec}, en.Subject})
	}
	for i, en := range entries {
		// An empty rule ({}) selects no peer and no port: it only
		// puts the subject in default deny. No flow can exercise it.
		if len(en.L3) == 0 && len(en.L4) == 0 && !en.IsDeny() {
			pr.Isolating = append(pr.Isolating, paths[i])
			continue
		}
		pr.Rules = append(pr.Rules, paths[i])
	}
	e.policies = append(e.policies, pr)
	e.prefixes = append(e.prefixes, policy.GetCIDRPrefixes(entries)...)
	for _, en := range entries {
		for _, sel := range en.L3 {
			if f, ok := sel.GetFQDNSelector(); ok && f != nil {
				e.fqdns = append(e.fqdns, f)
			}
		}
	}
	if !e.noIntern {
		e.intern(entries)
	}
	if e.peers == nil {
		e.peers = map[string]types.Selector{}
	}
	for _, en := range entries {
		for _, sel := range en.L3 {
			if sel != nil {
				e.peers[sel.Key()] = sel
			}
		}
	}
	e.repo.ReplaceByResource(entries, rid)
	e.resources = append(e.resources, rid)
	return nil
}

// Release deletes every policy and identity from the engine's repository
// and selector caches, and drops what the engine computed from them; the
// engine is empty afterwards. Cilium's selector cache starts a goroutine
// the first time an identity change reaches a selector's users (here:
// AddGraph after Load), and that goroutine, which waits forever, keeps
// the cache and through it every rule that uses a cached selector. An
// engine not released stays in memory for the rest of the process (at
// 5,000 policies, 60 MB through the rest of a compile, and one more
// engine every round of compile --follow).
func (e *Engine) Release() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.anchored) > 0 {
		e.repo.GetSelectorCache().RemoveSelectors(e.anchored, anchorUser{})
	}
	for _, rid := range e.resources {
		e.repo.ReplaceByResource(nil, rid)
	}
	ids := identity.IdentityMap{}
	for _, id := range e.ids {
		ids[id.ID] = id.LabelArray
	}
	if len(ids) > 0 {
		var wg sync.WaitGroup
		e.repo.GetSelectorCache().UpdateIdentities(nil, ids, &wg)
		wg.Wait()
		e.repo.UpdateIdentities(nil, ids)
	}
	e.resources, e.policies, e.subjects, e.prefixes, e.fqdns, e.peers, e.anchored = nil, nil, nil, nil, nil, nil, nil
	clear(e.selectors)
	clear(e.cache)
	clear(e.ids)
	clear(e.byLbls)
	e.refCache.Clear()
}

// intern makes the entries' label selectors (subjects and peers) that
// have the same key one shared object. Cilium's parser makes a selector,
// with its parsed requirements, for every peer of every rule: with
// thousands of policies naming the same workloads as peers that is most
// of the repository's memory (700k selectors, ~550 MB, for 5,000
// policies of 70 peers a side), for a few thousand distinct ones. A
// types.LabelSelector is immutable once made (its fields are unexported
// and its methods only read them) and its key is the canonical text of
// the selector it was made from, so two with one key are the same
// selector to every reader; the selector cache keys them by that text as
// well.
func (e *Engine) intern(entries types.PolicyEntries) {
	if e.selectors == nil {
		e.selectors = map[string]*types.LabelSelector{}
	}
	one := func(s *types.LabelSelector) *types.LabelSelector {
		if c, ok := e.selectors[s.Key()]; ok {
			return c
		}
		e.selectors[s.Key()] = s
		return s
	}
	for _, en := range entries {
		if en.Subject != nil {
			en.Subject = one(en.Subject)
		}
		for i, sel := range en.L3 {
			if ls, ok := sel.(*types.LabelSelector); ok && ls != nil {
				en.L3[i] = one(ls)
			}
		}
	}
}

// ruleLabelKey labels a policy entry with its rule's path.
const ruleLabelKey = "ppc.policypilot.io/rule"

// rulePaths names the entries RulesToPolicyEntries makes from rules, in
// its order: per rule (spec first, then specs), its ingress, ingressDeny,
// egress and egressDeny rules.
func rulePaths(rules api.Rules, hasSpec bool) []string {
	var out []string
	for i, r := range rules {
		prefix := "spec"
		if !hasSpec || i > 0 {
			j := i
			if hasSpec {
				j--
			}
			prefix = fmt.Sprintf("specs[%d]", j)
		}
		for _, s := range []struct {
			name string
			n    int
		}{{"ingress", len(r.Ingress)}, {"ingressDeny", len(r.IngressDeny)}, {"egress", len(r.Egress)}, {"egressDeny", len(r.EgressDeny)}} {
			for k := 0; k < s.n; k++ {
				out = append(out, fmt.Sprintf("%s.%s[%d]", prefix, s.name, k))
			}
		}
	}
	return out
}

// encodePath writes a rule path without brackets ("spec.egress.2"):
// Cilium serialises rule labels into bracketed lists.
func encodePath(p string) string {
	return strings.NewReplacer("[", ".", "]", "").Replace(p)
}

// decodePath reverses encodePath.
func decodePath(s string) string {
	var b strings.Builder
	for i, part := range strings.Split(s, ".") {
		if _, err := strconv.Atoi(part); err == nil {
			b.WriteString("[" + part + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(part)
	}
	return b.String()
}

// Policies lists the loaded policies and their rules, in load order.
func (e *Engine) Policies() []PolicyRules {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]PolicyRules(nil), e.policies...)
}

// SpecRef names one rule body of a loaded policy: its spec or one of
// its specs ("spec", "specs[1]").
type SpecRef struct {
	Policy string
	Spec   string
}

type subject struct {
	ref SpecRef
	sel *types.LabelSelector
}

// Selecting names the rule bodies of the loaded policies that apply to n:
// those whose subject selects its identity, as the policy repository
// decides which rules apply to an endpoint (types.LabelSelector.Matches
// on the identity's labels); sorted by policy and spec. A body whose
// cluster the engine does not enforce at n still selects it: EnforceOnly
// is a replay decision, not selection.
func (e *Engine) Selecting(n *ir.Node) ([]SpecRef, error) {
	id, err := e.Identity(n)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	seen := map[SpecRef]bool{}
	var out []SpecRef
	for _, sub := range e.subjects {
		if !seen[sub.ref] && sub.sel != nil && sub.sel.Matches(id.LabelArray) {
			seen[sub.ref] = true
			out = append(out, sub.ref)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Policy != out[j].Policy {
			return out[i].Policy < out[j].Policy
		}
		return out[i].Spec < out[j].Spec
	})
	return out, nil
}

// Identity returns (allocating on first use) the identity of an IR node.
func (e *Engine) Identity(n *ir.Node) (*identity.Identity, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sealed = true
	if id, ok := e.ids[n.ID]; ok {
		return id, nil
	}
	lbls, err := e.labelsFor(n)
	if err != nil {
		return nil, err
	}
	id := e.identityFor(n, lbls, e.batch)
	e.ids[n.ID] = id
	return id, nil
}

func (e *Engine) labelsFor(n *ir.Node) (labels.Labels, error) {
	switch n.Kind {
	case ir.KindWorkload:
		ls := labels.NewLabelsFromModel(n.Labels)
		if !hasKey(ls, podNamespaceLabel) {
			ls.MergeLabels(labels.NewLabelsFromModel([]string{"k8s:" + podNamespaceLabel + "=" + n.Namespace}))
		}
		if !hasKey(ls, "io.cilium.k8s.policy.cluster") {
			ls.MergeLabels(labels.NewLabelsFromModel([]string{"k8s:io.cilium.k8s.policy.cluster=" + e.cluster}))
		}
		// Kubernetes sets kubernetes.io/metadata.name on every namespace
		// (immutable, since 1.21), and Cilium puts the namespace's labels
		// in its pods' identities: flows that carried no namespace label
		// (field-masked, older Hubble) still come from a namespace that has
		// it, which NetworkPolicy namespaceSelectors select on.
		if !hasKey(ls, namespaceNameLabel) && n.Namespace != "" {
			ls.MergeLabels(labels.NewLabelsFromModel([]string{"k8s:" + namespaceNameLabel + "=" + n.Namespace}))
		}
		return ls, nil
	case ir.KindEntity:
		var model []string
		for _, en := range n.Entities {
			if en == "world" {
				en = labels.IDNameWorldIPv4
			}
			model = append(model, "reserved:"+en)
		}
		return labels.NewLabelsFromModel(model), nil
	case ir.KindCIDR:
		p, err := netip.ParsePrefix(n.CIDR)
		if err != nil {
			return nil, err
		}
		best := netip.Prefix{}
		for _, pp := range e.prefixes {
			if pp.Bits() <= p.Bits() && pp.Contains(p.Addr()) && (!best.IsValid() || pp.Bits() > best.Bits()) {
				best = pp
			}
		}
		if !best.IsValid() {
			return worldLabels(p.Addr()), nil
		}
		return labels.GetCIDRLabels(best), nil
	case ir.KindFQDN:
		ls := labels.NewLabelsFromModel([]string{"reserved:" + labels.IDNameWorldIPv4})
		name := strings.ToLower(n.FQDN) + "."
		for _, f := range e.fqdns {
			re, err := f.ToRegex()
			if err == nil && re.MatchString(name) {
				l := f.IdentityLabel()
				ls[l.Key] = l
			}
		}
		return ls, nil
	}
	return nil, fmt.Errorf("replay: node %s has unknown kind %q", n.ID, n.Kind)
}

// namespaceNameLabel is the label Kubernetes sets on every namespace, as
// Cilium stores it in a pod's identity.
const namespaceNameLabel = "io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name"

func hasKey(ls labels.Labels, key string) bool {
	for _, l := range ls {
		if l.Key == key {
			return true
		}
	}
	return false
}

func worldLabels(a netip.Addr) labels.Labels {
	if a.Is6() && !a.Is4In6() {
		return labels.NewLabelsFromModel([]string{"reserved:" + labels.IDNameWorldIPv6})
	}
	return labels.NewLabelsFromModel([]string{"reserved:" + labels.IDNameWorldIPv4})
}

// identityFor numbers an identity as the agent would: reserved labels keep
// their fixed IDs, pods get cluster-scope IDs, CIDR/FQDN/other world
// identities local-scope ones. Equal label sets share one identity. A new
// identity is registered with the caches at once, or, when batch is
// non-nil, added to it for registerIdentities.
func (e *Engine) identityFor(n *ir.Node, lbls labels.Labels, batch identity.IdentityMap) *identity.Identity {
	key := lbls.SortedList()
	if id, ok := e.byLbls[string(key)]; ok {
		return id
	}
	var id *identity.Identity
	if r := identity.LookupReservedIdentityByLabels(lbls); r != nil {
		id = identity.NewIdentity(r.ID, lbls)
	} else if n.Kind == ir.KindEntity && containsEntity(n.Entities, "host") {
		id = identity.NewIdentity(identity.ReservedIdentityHost, lbls)
	} else if identity.ScopeForLabels(lbls) == identity.IdentityScopeLocal || n.Kind != ir.KindWorkload {
		id = identity.NewIdentity(e.nextLoc, lbls)
		e.nextLoc++
	} else {
		id = identity.NewIdentity(e.nextPod, lbls)
		e.nextPod++
	}
	e.byLbls[string(key)] = id
	if !id.ID.IsReservedIdentity() {
		if batch != nil {
			batch[id.ID] = id.LabelArray
			e.pending = append(e.pending, id)
		} else {
			e.registerIdentities(identity.IdentityMap{id.ID: id.LabelArray}, []*identity.Identity{id})
		}
	}
	return id
}

// registerIdentities adds identities to both selector caches. Distilled
// policies only know the identities that existed when they were computed:
// new ones invalidate them.
func (e *Engine) registerIdentities(m identity.IdentityMap, ids []*identity.Identity) {
	if len(m) == 0 {
		return
	}
	clear(e.cache)
	var wg sync.WaitGroup
	e.repo.GetSelectorCache().UpdateIdentities(m, nil, &wg)
	wg.Wait()
	e.repo.UpdateIdentities(m, nil)
	for _, id := range ids {
		e.idmgr.Add(id)
	}
}

func containsEntity(es []string, e string) bool {
	for _, x := range es {
		if x == e {
			return true
		}
	}
	return false
}

// AddGraph registers the identity of every node of g, in one batch (the
// selector caches are updated once, not once per identity). Call it
// before the first Check so that no distilled policy has to be
// recomputed.
func (e *Engine) AddGraph(g *ir.Graph) error {
	e.mu.Lock()
	e.batch = identity.IdentityMap{}
	e.mu.Unlock()
	var err error
	for _, n := range g.SortedNodes() {
		if _, err = e.Identity(n); err != nil {
			break
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.registerIdentities(e.batch, e.pending)
	e.batch, e.pending = nil, nil
	return err
}

// anchor puts every peer selector of the loaded policies in the selector
// cache, used by the engine itself (e.mu held; once, by the first pass
// over the identities: a few verdicts (Check) need only their own
// identities' selectors, and making every selector up front doubled the
// time to the first verdict at 5,000 policies). Computing an
// identity's policy adds the selectors of its rules' peers to the cache
// and letting the policy go removes those no other user holds: without an
// anchor every identity's policy made its peers' selectors anew (their
// selections computed over every identity) and Cilium's cache keeps the
// selections of every selector it removed (a removed selector's
// selections are stored again, not deleted, under its own new ID): at
// 500k connections ~1M removed selectors, 110 MB by the end of replay.
// Anchored, each selector is made once and stays.
func (e *Engine) anchor() {
	if e.anchored != nil || len(e.peers) == 0 || e.noAnchor {
		return
	}
	keys := make([]string, 0, len(e.peers))
	for k := range e.peers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	sc := e.repo.GetSelectorCache()
	for _, k := range keys {
		// One at a time: AddSelectorsTxn makes a list with a wildcard
		// the wildcard alone.
		css, _ := sc.AddSelectorsTxn(anchorUser{}, e.peers[k])
		e.anchored = append(e.anchored, css...)
	}
	sc.Commit()
	e.peers = nil
}

// anchorUser is the engine's own use of the selectors it anchors: it is
// told of selection changes and does nothing with them.
type anchorUser struct{}

func (anchorUser) IdentitySelectionUpdated(*slog.Logger, types.CachedSelector, []identity.NumericIdentity, []identity.NumericIdentity) {
}
func (anchorUser) IdentitySelectionCommit(*slog.Logger, types.SelectorSnapshot) {}
func (anchorUser) IsPeerSelector() bool                                         { return true }
func (anchorUser) GetRuleLabels(types.CachedSelector) labels.LabelArrayList     { return nil }

// owner is the PolicyOwner of a simulated endpoint.
type owner struct{ id uint64 }

func (o owner) GetID() uint64                                      { return o.id }
func (o owner) GetIngressNamedPort(string, u8proto.U8proto) uint16 { return 0 }
func (o owner) PolicyDebug(string, ...any)                         {}
func (o owner) IsHost() bool                                       { return false }
func (o owner) PreviousMapStateSizes() policy.MapStateSizes        { return policy.MapStateSizes{} }
func (o owner) RegenerateIfAlive(*regeneration.ExternalRegenerationMetadata) <-chan bool {
	ch := make(chan bool)
	close(ch)
	return ch
}

// endpointPolicy returns the distilled policy of a subject identity,
// computing it once.
func (e *Engine) endpointPolicy(id *identity.Identity) (*distilled, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p, ok := e.cache[id.ID]; ok {
		return p, nil
	}
	d, err := e.distill(id)
	if err == nil {
		e.cache[id.ID] = d
	}
	return d, err
}

// policyOnce returns the distilled policy of a subject identity for one
// pass: the cached one if Check computed it, else a new one the cache
// does not keep.
func (e *Engine) policyOnce(id *identity.Identity) (*distilled, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p, ok := e.cache[id.ID]; ok {
		return p, nil
	}
	return e.distill(id)
}

// distill computes the distilled policy of a subject identity (e.mu
// held).
func (e *Engine) distill(id *identity.Identity) (*distilled, error) {
	sp, _, err := e.repo.ComputeSelectorPolicy(id)
	if err != nil {
		return nil, fmt.Errorf("replay: compute policy of identity %d: %w", id.ID, err)
	}
	epp := sp.DistillPolicy(e.logger, owner{id: uint64(id.ID)}, map[string]uint16{policy.FallbackRedirectID: 65535})
	epp.Ready()
	d := &distilled{id: id.ID, epp: epp}
	// The L7 policies and the peers their selectors select can only be
	// read while the policy is attached to the selector cache.
	for _, dir := range []*policy.L4DirectionPolicy{&epp.SelectorPolicy.L4Policy.Ingress, &epp.SelectorPolicy.L4Policy.Egress} {
		for f := range dir.PortRules.Filters() {
			for cs, psp := range f.PerSelectorPolicies {
				if psp == nil || psp.IsAllowAll() || psp.IsDeny() {
					continue
				}
				lf := l7Filter{ingress: f.Ingress, proto: f.U8Proto, port: f.Port, endPort: f.EndPort, wildcard: cs.IsWildcard(),
					peers: map[identity.NumericIdentity]bool{},
					l7:    L7{Parser: string(psp.L7Parser), Rules: *psp.L7Rules.DeepCopy()}}
				for _, id := range cs.GetSelections() {
					lf.peers[id] = true
				}
				if o, ok := f.RuleOrigin[cs]; ok {
					lf.l7.By = refs(o.GetLabelArrayList())
				}
				d.l7 = append(d.l7, lf)
			}
		}
	}
	epp.Detach(e.logger)
	sp.Supersede()
	return d, nil
}

// at is the verdict at one end's enforcement point, in its distilled
// policy d: its ingress from peer, or its egress toward peer; with l7,
// the L7 policies of a proxied connection too.
func (e *Engine) at(d *distilled, ingress bool, peer identity.NumericIdentity, proto u8proto.U8proto, port uint16, l7 bool) Point {
	key := policy.EgressKey()
	if ingress {
		key = policy.IngressKey()
	}
	entry, meta, _ := d.epp.Lookup(key.WithIdentity(peer).WithPortProto(proto, port))
	p := e.point(entry, meta)
	if l7 && p.Proxy {
		p = NewPoint(p.Decision, p.Proxy, p.By(), d.l7For(ingress, proto, port, peer))
	}
	return p
}

// enforcing is node i of t when the engine enforces policy there, else
// -1 (a pass makes no lookup there).
func (e *Engine) enforcing(t *nodeTable, i int32) int32 {
	if e.enforces(t.nodes[i]) {
		return i
	}
	return -1
}

// l7For returns the L7 policies that apply to a proxied connection.
func (d *distilled) l7For(ingress bool, proto u8proto.U8proto, port uint16, peer identity.NumericIdentity) []L7 {
	var out []L7
	for _, f := range d.l7 {
		if f.ingress != ingress || (f.proto != 0 && f.proto != proto) {
			continue
		}
		if f.port != 0 && (port < f.port || port > max(f.port, f.endPort)) {
			continue
		}
		if !f.wildcard && !f.peers[peer] {
			continue
		}
		out = append(out, f.l7)
	}
	return out
}

// Protocol maps an IR protocol to its IP protocol number.
func Protocol(p string) (u8proto.U8proto, bool) {
	switch p {
	case "TCP":
		return u8proto.TCP, true
	case "UDP":
		return u8proto.UDP, true
	case "SCTP":
		return u8proto.SCTP, true
	case "ICMPv4":
		return u8proto.ICMP, true
	case "ICMPv6":
		return u8proto.ICMPv6, true
	}
	return 0, false
}

// Check returns the engine's verdict for a connection from src to dst on
// protocol/port. Egress is checked only at workloads, ingress likewise:
// Cilium enforces nothing at world, CIDR or host peers.
func (e *Engine) Check(src, dst *ir.Node, protocol string, port uint16) (Verdict, error) {
	var v Verdict
	proto, sid, did, err := e.resolve(src, dst, protocol)
	if err != nil {
		return v, err
	}
	return e.check(e.enforces(src), e.enforces(dst), sid, did, proto, port)
}

// EnforceOnly limits enforcement to the workloads of one cluster (those
// whose cluster label names it, or that carry none): the engine then
// answers as that cluster's agents do, and reports the other cluster's
// end as not enforced.
func (e *Engine) EnforceOnly(cluster string) { e.only = cluster }

// enforces reports whether the engine enforces policy at n.
func (e *Engine) enforces(n *ir.Node) bool {
	if n.Kind != ir.KindWorkload {
		return false
	}
	if e.only == "" {
		return true
	}
	c := ClusterOf(n)
	return c == "" || c == e.only
}

// ClusterOf is the cluster a workload's labels name, or "".
func ClusterOf(n *ir.Node) string { return n.Cluster() }

func (e *Engine) check(atSrc, atDst bool, sid, did *identity.Identity, proto u8proto.U8proto, port uint16) (Verdict, error) {
	var v Verdict
	if atSrc {
		d, err := e.endpointPolicy(sid)
		if err != nil {
			return v, err
		}
		v.Egress = e.at(d, false, did.ID, proto, port, true)
	}
	if atDst {
		d, err := e.endpointPolicy(did)
		if err != nil {
			return v, err
		}
		v.Ingress = e.at(d, true, sid.ID, proto, port, true)
	}
	return v, nil
}

// resolve maps a connection's protocol and endpoints to Cilium's terms.
func (e *Engine) resolve(src, dst *ir.Node, protocol string) (u8proto.U8proto, *identity.Identity, *identity.Identity, error) {
	proto, ok := Protocol(protocol)
	if !ok {
		return 0, nil, nil, fmt.Errorf("replay: unsupported protocol %q", protocol)
	}
	sid, err := e.Identity(src)
	if err != nil {
		return 0, nil, nil, err
	}
	did, err := e.Identity(dst)
	if err != nil {
		return 0, nil, nil, err
	}
	return proto, sid, did, nil
}

func (e *Engine) point(entry types.MapStateEntry, meta policy.RuleMeta) Point {
	p := Point{Decision: Allowed, why: e.metaWhy(meta)}
	if entry.IsDeny() {
		p.Decision = Denied
		return p
	}
	p.Proxy = entry.IsRedirectEntry()
	return p
}

// metaWhy returns the rules of a map-state entry's metadata (nil: none).
// Cilium interns the metadata as a string; parsing it is most of a
// verdict's cost, so the result is cached per string (and shared:
// read-only).
func (e *Engine) metaWhy(meta policy.RuleMeta) *pointWhy {
	key := meta.LabelArrayListString()
	if r, ok := e.refCache.Load(key); ok {
		return r.(*pointWhy)
	}
	var w *pointWhy
	if r := refs(meta.LabelArray()); len(r) > 0 {
		w = &pointWhy{by: r}
	}
	e.refCache.Store(key, w)
	return w
}

// refs extracts the rules from the label arrays of the policy entries
// that produced a map-state entry.
func refs(las labels.LabelArrayList) []RuleRef {
	var out []RuleRef
	for _, la := range las {
		var ns, name, path string
		for _, l := range la {
			switch l.Key {
			case "io.cilium.k8s.policy.name":
				name = l.Value
			case "io.cilium.k8s.policy.namespace":
				ns = l.Value
			case ruleLabelKey:
				path = decodePath(l.Value)
			}
		}
		if name == "" {
			continue
		}
		if ns != "" {
			name = ns + "/" + name
		}
		out = append(out, RuleRef{Policy: name, Path: path})
	}
	return mergeRefs(out)
}

// mergeRefs sorts and deduplicates rule references.
func mergeRefs(lists ...[]RuleRef) []RuleRef {
	var out []RuleRef
	for _, l := range lists {
		out = append(out, l...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Policy != out[j].Policy {
			return out[i].Policy < out[j].Policy
		}
		return out[i].Path < out[j].Path
	})
	return slices.Compact(out)
}

const podNamespaceLabel = "io.kubernetes.pod.namespace"

// Reference answers the same question as Check with policy.LookupFlow,
// which recomputes both endpoints' policies from scratch on every call.
// It is about a thousand times slower; tests use it to prove that the
// cached path agrees with Cilium's own simulation.
func (e *Engine) Reference(src, dst *ir.Node, protocol string, port uint16) (Verdict, error) {
	var v Verdict
	proto, sid, did, err := e.resolve(src, dst, protocol)
	if err != nil {
		return v, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	r, _, _, err := policy.LookupFlow(e.logger, e.repo, e.idmgr, types.Flow{From: sid, To: did, Proto: proto, Dport: port})
	if err != nil {
		return v, err
	}
	if src.Kind == ir.KindWorkload {
		v.Egress.Decision = fromDecision(r.Egress)
	}
	if dst.Kind == ir.KindWorkload {
		v.Ingress.Decision = fromDecision(r.Ingress)
	}
	return v, nil
}

func fromDecision(d types.Decision) Decision {
	if d == types.DecisionDenied {
		return Denied
	}
	return Allowed
}

// RequestDecision is what the L7 proxy does with one HTTP request.
type RequestDecision int

// Request decisions.
const (
	// RequestAllowed: an HTTP rule that applies matches the request.
	RequestAllowed RequestDecision = iota
	// RequestDenied: no rule matches; the proxy answers 403.
	RequestDenied
	// RequestUnknown: only rules on what the flows do not record (host,
	// headers) could match: ppc cannot tell.
	RequestUnknown
)

// HTTPRequest decides an HTTP request at a point the proxy decides, as
// Cilium configures Envoy (pkg/envoy/policy, getHTTPRule): a rule matches
// when its method and path, RE2 patterns, match the whole :method and
// :path, and its host and headers match too; an L7 policy with no HTTP
// rules allows every request. path is the request's path as the flows
// record it. A point the proxy does not decide allows it.
func (p Point) HTTPRequest(method, path string) (RequestDecision, error) {
	if !p.Proxy {
		return RequestAllowed, nil
	}
	unknown := false
	for _, l7 := range p.L7() {
		if l7.Parser != "http" && l7.Parser != "" {
			continue
		}
		if len(l7.Rules.HTTP) == 0 {
			return RequestAllowed, nil
		}
		for _, r := range l7.Rules.HTTP {
			ok, err := fullMatch(r.Method, method)
			if err != nil || !ok {
				if err != nil {
					return RequestUnknown, fmt.Errorf("method pattern %q: %w", r.Method, err)
				}
				continue
			}
			if ok, err = fullMatch(r.Path, path); err != nil {
				return RequestUnknown, fmt.Errorf("path pattern %q: %w", r.Path, err)
			} else if !ok {
				continue
			}
			if r.Host != "" || len(r.Headers) > 0 || len(r.HeaderMatches) > 0 {
				unknown = true
				continue
			}
			return RequestAllowed, nil
		}
	}
	if unknown {
		return RequestUnknown, nil
	}
	return RequestDenied, nil
}

// fullMatch matches s against the RE2 pattern as Envoy's safe_regex does:
// the whole string; an empty pattern matches anything.
func fullMatch(pattern, s string) (bool, error) {
	if pattern == "" {
		return true, nil
	}
	if re, ok := patterns.Load(pattern); ok {
		return re.(*regexp.Regexp).MatchString(s), nil
	}
	re, err := regexp.Compile(`^(?:` + pattern + `)$`)
	if err != nil {
		return false, err
	}
	patterns.Store(pattern, re)
	return re.MatchString(s), nil
}

// patterns caches compiled L7 patterns: a capture repeats few of them.
var patterns sync.Map

// DNSQuery decides a DNS lookup at a point the DNS proxy decides, as the
// proxy matches its rules (api.FQDNSelector.ToRegex: matchName exactly,
// matchPattern with Cilium's wildcards); an L7 DNS policy with no rules
// allows every lookup. A point the proxy does not decide allows it.
func (p Point) DNSQuery(name string) (RequestDecision, error) {
	if !p.Proxy {
		return RequestAllowed, nil
	}
	fqdn := dns.FQDN(strings.ToLower(name))
	for _, l7 := range p.L7() {
		if l7.Parser != "dns" && !(l7.Parser == "" && len(l7.Rules.DNS) > 0) {
			continue
		}
		if len(l7.Rules.DNS) == 0 {
			return RequestAllowed, nil
		}
		for _, r := range l7.Rules.DNS {
			sel := api.FQDNSelector(r)
			re, err := sel.ToRegex()
			if err != nil {
				return RequestUnknown, fmt.Errorf("DNS rule %s: %w", sel.String(), err)
			}
			if re.MatchString(fqdn) {
				return RequestAllowed, nil
			}
		}
	}
	return RequestDenied, nil
}
