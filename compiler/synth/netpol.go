package synth

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Targets: the kinds of policy compile writes.
const (
	// TargetCilium writes CiliumNetworkPolicy (the default).
	TargetCilium = "cilium"
	// TargetKubernetes writes networking.k8s.io/v1 NetworkPolicy,
	// widening what it cannot express (see NetworkPolicyOf).
	TargetKubernetes = "kubernetes"
	// TargetAuto writes NetworkPolicy where it loses nothing and
	// CiliumNetworkPolicy elsewhere.
	TargetAuto = "auto"
)

// namespaceKey is the label Cilium keeps a pod's namespace under (without
// its source prefix); namespaceNameKey the label Kubernetes sets on every
// namespace, which a NetworkPolicy's namespaceSelector selects on.
const (
	namespaceKey     = "io.kubernetes.pod.namespace"
	namespaceNameKey = "kubernetes.io/metadata.name"
)

// NetworkPolicyOf translates p's CiliumNetworkPolicy into a Kubernetes
// NetworkPolicy with the same subject, default deny and rules. What a
// NetworkPolicy cannot express is written as the narrowest rule that
// still allows the observed traffic, and said in widened (one line per
// rule): reserved entities other than world (host, remote-node,
// kube-apiserver, cluster, …) and rules it cannot read become "every
// peer" on the rule's ports; toFQDNs becomes every internet address
// (0.0.0.0/0, ::/0) on its ports; L7 rules (HTTP, DNS) are dropped, the
// port stays (a DNS rule that allows every name loses nothing); ICMP
// rules allow every protocol to their peers. world is
// 0.0.0.0/0 and ::/0, which Cilium's translation selects as world: no
// widening.
func NetworkPolicyOf(p *Policy) (np *networkingv1.NetworkPolicy, widened []string, err error) {
	b, err := json.Marshal(p.CNP.Spec)
	if err != nil {
		return nil, nil, err
	}
	var spec map[string]any
	if err := json.Unmarshal(b, &spec); err != nil {
		return nil, nil, err
	}
	ns := p.CNP.Namespace
	np = &networkingv1.NetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: p.CNP.Name, Namespace: ns,
			Labels: p.CNP.Labels, Annotations: p.CNP.Annotations},
	}
	sel, ok := selectorOf(spec["endpointSelector"], ns)
	if !ok || sel.ns != nil {
		return nil, nil, fmt.Errorf("%s: its endpointSelector cannot be a podSelector", p.Key)
	}
	np.Spec.PodSelector = *sel.pods
	for _, dir := range []string{"ingress", "egress"} {
		rules, present := spec[dir].([]any)
		if !present {
			continue
		}
		if dir == "ingress" {
			np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
		} else {
			np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		}
		for i, x := range rules {
			r, _ := x.(map[string]any)
			if len(r) == 0 {
				continue // {}: isolates, allows nothing
			}
			peers, ports, why := translateRule(r, dir, ns)
			if len(why) > 0 {
				widened = append(widened, fmt.Sprintf("spec.%s[%d]: %s", dir, i, strings.Join(why, "; ")))
			}
			if dir == "ingress" {
				np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: peers, Ports: ports})
			} else {
				np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: peers, Ports: ports})
			}
		}
	}
	return np, widened, nil
}

// translateRule is one rule's peers and ports; why says what was widened.
// nil peers means every peer.
func translateRule(r map[string]any, dir, ns string) (peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort, why []string) {
	everyPeer := false
	internet := func() {
		peers = append(peers, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}},
			networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "::/0"}})
	}
	keys := make([]string, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	hasICMP := false
	for _, k := range keys {
		v := r[k]
		switch k {
		case "fromEndpoints", "toEndpoints":
			for _, s := range list(v) {
				sel, ok := selectorOf(s, ns)
				if !ok {
					everyPeer = true
					why = append(why, k+" selector with labels of another source: every peer")
					continue
				}
				peers = append(peers, networkingv1.NetworkPolicyPeer{PodSelector: sel.pods, NamespaceSelector: sel.ns})
			}
		case "fromCIDR", "toCIDR":
			for _, c := range list(v) {
				peers = append(peers, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: fmt.Sprint(c)}})
			}
		case "fromCIDRSet", "toCIDRSet":
			for _, c := range list(v) {
				m, _ := c.(map[string]any)
				cidr, ok := m["cidr"].(string)
				if !ok {
					everyPeer = true
					why = append(why, k+" without a cidr (a group or label): every peer")
					continue
				}
				b := &networkingv1.IPBlock{CIDR: cidr}
				for _, e := range list(m["except"]) {
					b.Except = append(b.Except, fmt.Sprint(e))
				}
				peers = append(peers, networkingv1.NetworkPolicyPeer{IPBlock: b})
			}
		case "fromEntities", "toEntities":
			for _, e := range list(v) {
				switch e {
				case "world", "world-ipv4", "world-ipv6":
					internet()
				default:
					everyPeer = true
					why = append(why, fmt.Sprintf("entity %s has no NetworkPolicy form: every peer on these ports", e))
				}
			}
		case "toFQDNs":
			internet()
			var names []string
			for _, f := range list(v) {
				m, _ := f.(map[string]any)
				if n, ok := m["matchName"].(string); ok {
					names = append(names, n)
				}
				if n, ok := m["matchPattern"].(string); ok {
					names = append(names, n)
				}
			}
			why = append(why, fmt.Sprintf("toFQDNs (%s) has no NetworkPolicy form: every internet address on these ports", strings.Join(names, ", ")))
		case "toPorts":
			for _, pr := range list(v) {
				m, _ := pr.(map[string]any)
				if rs, ok := m["rules"].(map[string]any); ok && len(rs) > 0 && !anyName(rs) {
					var kinds []string
					for kind := range rs {
						kinds = append(kinds, kind)
					}
					sort.Strings(kinds)
					why = append(why, fmt.Sprintf("L7 rules (%s) have no NetworkPolicy form: the port is allowed whole", strings.Join(kinds, ", ")))
				}
				for _, q := range list(m["ports"]) {
					ports = append(ports, portsOf(q)...)
				}
			}
		case "icmps":
			hasICMP = true
		default:
			everyPeer = true
			why = append(why, k+" has no NetworkPolicy form: every peer on these ports")
		}
	}
	if hasICMP {
		ports = nil
		why = append(why, "ICMP has no NetworkPolicy form: every protocol to these peers")
	}
	if everyPeer {
		peers = nil
	}
	return peers, ports, why
}

// anyName reports whether L7 rules are DNS rules that let every name be
// looked up (matchPattern "*"): the port allowed whole allows the same.
// (They also feed the DNS proxy's cache that toFQDNs needs; a policy
// with toFQDNs is widened there.)
func anyName(rs map[string]any) bool {
	if len(rs) != 1 {
		return false
	}
	dns := list(rs["dns"])
	for _, d := range dns {
		m, _ := d.(map[string]any)
		if len(m) != 1 || m["matchPattern"] != "*" {
			return false
		}
	}
	return len(dns) > 0
}

func list(v any) []any {
	xs, _ := v.([]any)
	return xs
}

// portsOf translates one Cilium port entry: ANY is TCP, UDP and SCTP;
// port 0 (or none) is every port of the protocol.
func portsOf(q any) []networkingv1.NetworkPolicyPort {
	m, _ := q.(map[string]any)
	proto, _ := m["protocol"].(string)
	protos := []corev1.Protocol{corev1.Protocol(strings.ToUpper(proto))}
	if proto == "" || strings.EqualFold(proto, "ANY") {
		protos = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}
	}
	port, _ := m["port"].(string)
	var out []networkingv1.NetworkPolicyPort
	for _, pr := range protos {
		pp := networkingv1.NetworkPolicyPort{Protocol: &pr}
		if n, err := strconv.Atoi(port); err == nil && n > 0 {
			v := intstr.FromInt32(int32(n))
			pp.Port = &v
			if e, ok := m["endPort"].(float64); ok && e > 0 {
				ep := int32(e)
				pp.EndPort = &ep
			}
		} else if port != "" && err != nil {
			v := intstr.FromString(port)
			pp.Port = &v
		}
		out = append(out, pp)
	}
	return out
}

// selector is a Cilium endpoint selector as a NetworkPolicy peer: pods
// and, when it names another namespace, the namespace.
type selector struct {
	pods *metav1.LabelSelector
	ns   *metav1.LabelSelector
}

// selectorOf translates a Cilium endpoint selector, as seen from a policy
// in namespace ns: its k8s labels select pods, the pod-namespace label
// becomes a namespaceSelector on kubernetes.io/metadata.name. A label of
// another source (reserved:, cidr:, …) cannot be translated (ok false).
func selectorOf(v any, ns string) (sel selector, ok bool) {
	m, _ := v.(map[string]any)
	pods := &metav1.LabelSelector{}
	for k, x := range m {
		switch k {
		case "matchLabels":
			ml, _ := x.(map[string]any)
			for key, val := range ml {
				key, ok := k8sKey(key)
				if !ok {
					return sel, false
				}
				if key == namespaceKey {
					if s := fmt.Sprint(val); s != ns {
						sel.ns = &metav1.LabelSelector{MatchLabels: map[string]string{namespaceNameKey: s}}
					}
					continue
				}
				if pods.MatchLabels == nil {
					pods.MatchLabels = map[string]string{}
				}
				pods.MatchLabels[key] = fmt.Sprint(val)
			}
		case "matchExpressions":
			for _, e := range list(x) {
				em, _ := e.(map[string]any)
				key, ok := k8sKey(fmt.Sprint(em["key"]))
				if !ok || key == namespaceKey {
					return sel, false
				}
				r := metav1.LabelSelectorRequirement{Key: key, Operator: metav1.LabelSelectorOperator(fmt.Sprint(em["operator"]))}
				for _, v := range list(em["values"]) {
					r.Values = append(r.Values, fmt.Sprint(v))
				}
				pods.MatchExpressions = append(pods.MatchExpressions, r)
			}
		default:
			return sel, false
		}
	}
	sel.pods = pods
	return sel, true
}

// k8sKey strips a label key's k8s: or any: source; other sources have no
// NetworkPolicy form.
func k8sKey(k string) (string, bool) {
	src, key, found := strings.Cut(k, ":")
	if !found {
		return k, true
	}
	switch src {
	case "k8s", "any":
		return key, true
	}
	return k, false
}

// NetworkPolicyJSON renders a NetworkPolicy as the canonical JSON ppc
// verifies and writes (as JSON does for a CiliumNetworkPolicy).
func NetworkPolicyJSON(np *networkingv1.NetworkPolicy) ([]byte, error) {
	return canonicalJSON(np)
}
