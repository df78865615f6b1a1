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
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/cilium/cilium/pkg/endpoint/regeneration"
	envoypolicy "github.com/cilium/cilium/pkg/envoy/policy"
	"github.com/cilium/cilium/pkg/identity"
	"github.com/cilium/cilium/pkg/identity/identitymanager"
	ipcachetypes "github.com/cilium/cilium/pkg/ipcache/types"
	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	"github.com/cilium/cilium/pkg/labels"
	"github.com/cilium/cilium/pkg/policy"
	"github.com/cilium/cilium/pkg/policy/api"
	"github.com/cilium/cilium/pkg/policy/types"
	policyutils "github.com/cilium/cilium/pkg/policy/utils"
	"github.com/cilium/cilium/pkg/u8proto"

	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/ir"
)

// Decision is a verdict at one enforcement point.
type Decision int

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

// Verdict is the engine's answer for one connection.
type Verdict struct {
	Egress, Ingress Decision
	// EgressProxy / IngressProxy: allowed at L4 and redirected to the L7
	// proxy, which decides per request.
	EgressProxy, IngressProxy bool
	// EgressBy / IngressBy name the policies ("namespace/name") whose rules
	// matched.
	EgressBy, IngressBy []string
}

// Allowed reports whether both enforcement points allow the connection.
func (v Verdict) Allowed() bool { return v.Egress != Denied && v.Ingress != Denied }

// Engine is Cilium's policy engine loaded with policies and identities.
type Engine struct {
	cluster string
	logger  *slog.Logger
	repo    *policy.Repository
	idmgr   identitymanager.IDManager

	prefixes []netip.Prefix
	fqdns    []*api.FQDNSelector

	mu      sync.Mutex
	ids     map[string]*identity.Identity // IR node ID -> identity
	byLbls  map[string]*identity.Identity // sorted labels -> identity
	nextPod identity.NumericIdentity
	nextLoc identity.NumericIdentity
	cache   map[identity.NumericIdentity]*policy.EndpointPolicy
	sealed  bool
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
		cluster: s.ClusterName, logger: logger, repo: repo, idmgr: idmgr,
		ids: map[string]*identity.Identity{}, byLbls: map[string]*identity.Identity{},
		nextPod: identity.MinimalNumericIdentity, nextLoc: identity.IdentityScopeLocal | 1,
		cache: map[identity.NumericIdentity]*policy.EndpointPolicy{},
	}
	// Reserved identities are subjects too (e.g. health, host).
	reserved := identity.ListReservedIdentities()
	repo.UpdateIdentities(reserved, nil)
	return e, nil
}

// Policy is one policy to load: a CiliumNetworkPolicy or a
// CiliumClusterwideNetworkPolicy.
type Policy struct {
	CNP  *ciliumv2.CiliumNetworkPolicy
	CCNP *ciliumv2.CiliumClusterwideNetworkPolicy
}

// Name is "namespace/name" or, for a clusterwide policy, "name".
func (p Policy) Name() string {
	if p.CNP != nil {
		return p.CNP.Namespace + "/" + p.CNP.Name
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
		if p.CNP != nil {
			rules, err = p.CNP.DeepCopy().Parse(e.logger, e.cluster)
			rid = ipcachetypes.NewResourceID(ipcachetypes.ResourceKindCNP, p.CNP.Namespace, p.CNP.Name)
		} else {
			rules, err = p.CCNP.DeepCopy().Parse(e.logger, e.cluster)
			rid = ipcachetypes.NewResourceID(ipcachetypes.ResourceKindCCNP, "", p.CCNP.Name)
		}
		if err != nil {
			return fmt.Errorf("replay: policy %s: %w", p.Name(), err)
		}
		entries := policyutils.RulesToPolicyEntries(rules)
		e.prefixes = append(e.prefixes, policy.GetCIDRPrefixes(entries)...)
		for _, en := range entries {
			for _, sel := range en.L3 {
				if f, ok := sel.GetFQDNSelector(); ok && f != nil {
					e.fqdns = append(e.fqdns, f)
				}
			}
		}
		e.repo.ReplaceByResource(entries, rid)
	}
	return nil
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
	id := e.identityFor(n, lbls)
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
// identities local-scope ones. Equal label sets share one identity.
func (e *Engine) identityFor(n *ir.Node, lbls labels.Labels) *identity.Identity {
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
		// Distilled policies only know the identities that existed when
		// they were computed: a new identity invalidates them.
		clear(e.cache)
		var wg sync.WaitGroup
		e.repo.GetSelectorCache().UpdateIdentities(identity.IdentityMap{id.ID: id.LabelArray}, nil, &wg)
		wg.Wait()
		e.repo.UpdateIdentities(identity.IdentityMap{id.ID: id.LabelArray}, nil)
		e.idmgr.Add(id)
	}
	return id
}

func containsEntity(es []string, e string) bool {
	for _, x := range es {
		if x == e {
			return true
		}
	}
	return false
}

// AddGraph registers the identity of every node of g. Call it before the
// first Check so that no distilled policy has to be recomputed.
func (e *Engine) AddGraph(g *ir.Graph) error {
	for _, n := range g.SortedNodes() {
		if _, err := e.Identity(n); err != nil {
			return err
		}
	}
	return nil
}

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
func (e *Engine) endpointPolicy(id *identity.Identity) (*policy.EndpointPolicy, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p, ok := e.cache[id.ID]; ok {
		return p, nil
	}
	sp, _, err := e.repo.ComputeSelectorPolicy(id)
	if err != nil {
		return nil, fmt.Errorf("replay: compute policy of identity %d: %w", id.ID, err)
	}
	epp := sp.DistillPolicy(e.logger, owner{id: uint64(id.ID)}, map[string]uint16{policy.FallbackRedirectID: 65535})
	epp.Ready()
	epp.Detach(e.logger)
	sp.Supersede()
	e.cache[id.ID] = epp
	return epp, nil
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
	if src.Kind == ir.KindWorkload {
		epp, err := e.endpointPolicy(sid)
		if err != nil {
			return v, err
		}
		entry, meta, _ := epp.Lookup(policy.EgressKey().WithIdentity(did.ID).WithPortProto(proto, port))
		v.Egress, v.EgressProxy, v.EgressBy = decide(entry, meta)
	}
	if dst.Kind == ir.KindWorkload {
		epp, err := e.endpointPolicy(did)
		if err != nil {
			return v, err
		}
		entry, meta, _ := epp.Lookup(policy.IngressKey().WithIdentity(sid.ID).WithPortProto(proto, port))
		v.Ingress, v.IngressProxy, v.IngressBy = decide(entry, meta)
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

func decide(entry types.MapStateEntry, meta policy.RuleMeta) (Decision, bool, []string) {
	if entry.IsDeny() {
		return Denied, false, nil
	}
	return Allowed, entry.IsRedirectEntry(), policyNames(meta)
}

// policyNames extracts "namespace/name" from the derived-from labels of
// the rules that produced a map entry.
func policyNames(meta policy.RuleMeta) []string {
	seen := map[string]bool{}
	var out []string
	for _, la := range meta.LabelArray() {
		var ns, name string
		for _, l := range la {
			switch l.Key {
			case "io.cilium.k8s.policy.name":
				name = l.Value
			case "io.cilium.k8s.policy.namespace":
				ns = l.Value
			}
		}
		if name == "" {
			continue
		}
		n := name
		if ns != "" {
			n = ns + "/" + name
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
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
		v.Egress = fromDecision(r.Egress)
	}
	if dst.Kind == ir.KindWorkload {
		v.Ingress = fromDecision(r.Ingress)
	}
	return v, nil
}

func fromDecision(d types.Decision) Decision {
	if d == types.DecisionDenied {
		return Denied
	}
	return Allowed
}
