package compiler

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"

	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/flows"
	"github.com/policypilot/ppc/compiler/lower"
	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/compiler/verify"
	"github.com/policypilot/ppc/ir"
)

// This file holds ppc trace: one connection — which need not have
// happened — decided by Cilium's engine loaded with a policy set, exactly
// as replay decides the observed ones.

// entities are the reserved identities an endpoint may be named by.
var entities = map[string]bool{
	"world": true, "world-ipv4": true, "world-ipv6": true, "host": true, "remote-node": true,
	"kube-apiserver": true, "health": true, "ingress": true, "init": true, "unmanaged": true,
}

var dnsName = regexp.MustCompile(`^([a-zA-Z0-9_]([-a-zA-Z0-9_]*[a-zA-Z0-9_])?\.)+[a-zA-Z][-a-zA-Z0-9]*\.?$`)

// ParseEndpoint reads one end of a traced connection:
//   - "namespace/name": a workload of g (the flows), by its name (as the
//     flows name it: "cluster/namespace/name" when they span clusters);
//   - "k8s:app=web,k8s:io.kubernetes.pod.namespace=shop": a workload with
//     these labels (source prefix optional; the namespace label names its
//     namespace);
//   - an entity: world, host, remote-node, kube-apiserver, …;
//   - an IP address or CIDR: a peer outside the cluster;
//   - a DNS name: a peer known by that name (toFQDNs).
func ParseEndpoint(spec string, g *ir.Graph) (*ir.Node, error) {
	spec = strings.TrimSpace(spec)
	switch {
	case spec == "":
		return nil, fmt.Errorf("empty endpoint")
	case strings.Contains(spec, "="):
		n := &ir.Node{ID: "wl:trace/" + spec, Kind: ir.KindWorkload}
		for _, kv := range strings.Split(spec, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("label %q: want key=value", kv)
			}
			if !strings.Contains(strings.SplitN(k, "/", 2)[0], ":") {
				k = "k8s:" + k
			}
			if k == "k8s:io.kubernetes.pod.namespace" {
				n.Namespace = v
			}
			n.Labels = append(n.Labels, k+"="+v)
		}
		if n.Namespace == "" {
			return nil, fmt.Errorf("labels %q: name the namespace too (k8s:io.kubernetes.pod.namespace=NS)", spec)
		}
		sort.Strings(n.Labels)
		n.Name = "labels " + spec
		return n, nil
	case entities[spec]:
		return &ir.Node{ID: ir.EntityID([]string{spec}), Kind: ir.KindEntity, Entities: []string{spec}}, nil
	}
	if p, err := netip.ParsePrefix(spec); err == nil {
		return &ir.Node{ID: "cidr:" + p.Masked().String(), Kind: ir.KindCIDR, CIDR: p.Masked().String()}, nil
	}
	if a, err := netip.ParseAddr(spec); err == nil {
		p := netip.PrefixFrom(a, a.BitLen())
		return &ir.Node{ID: "cidr:" + p.String(), Kind: ir.KindCIDR, CIDR: p.String()}, nil
	}
	if g != nil {
		// The name the flows give a workload ("namespace/name", with its
		// cluster first when the flows span several).
		for id, name := range g.DisplayNames() {
			if name == spec && g.Nodes[id].Kind == ir.KindWorkload {
				return g.Nodes[id], nil
			}
		}
	}
	if ns, name, ok := strings.Cut(spec, "/"); ok && !strings.Contains(name, "/") {
		if g == nil {
			return nil, fmt.Errorf("workload %q: give --flows (or an IR snapshot) to know its labels, or name it by labels (k8s:app=…,k8s:io.kubernetes.pod.namespace=%s)", spec, ns)
		}
		names := g.DisplayNames()
		var found []*ir.Node
		for id, n := range g.Nodes {
			if n.Kind == ir.KindWorkload && n.Namespace == ns && (n.Name == name || names[id] == spec) {
				found = append(found, n)
			}
		}
		switch len(found) {
		case 0:
			return nil, fmt.Errorf("workload %q is not in the flows", spec)
		case 1:
			return found[0], nil
		}
		sort.Slice(found, func(i, j int) bool { return found[i].ID < found[j].ID })
		return nil, fmt.Errorf("%q names %d workloads of the flows (%s, …): name it by its labels", spec, len(found), found[0].ID)
	}
	if dnsName.MatchString(spec) {
		name := strings.ToLower(strings.TrimSuffix(spec, "."))
		return &ir.Node{ID: "fqdn:" + name, Kind: ir.KindFQDN, FQDN: name}, nil
	}
	return nil, fmt.Errorf("endpoint %q: want namespace/name, labels (k8s:app=web,…), an entity (world, host, …), an IP or CIDR, or a DNS name", spec)
}

// TraceResult is Cilium's answer for one connection.
type TraceResult struct {
	From, To *ir.Node
	Protocol string
	Port     uint16
	Verdict  replay.Verdict
	// Loaded counts the policies loaded; Invalid are the ones left out
	// (the cluster would not enforce them).
	Loaded  int
	Invalid []verify.Result
	// Selecting names the policies that apply at each end (their subject
	// selects it).
	FromPolicies, ToPolicies []string
	// Suggestions are, for each end that denies by default, the rule to
	// add that allows the connection there.
	Suggestions []Suggestion
}

// Trace decides the connection from → to on protocol/port with Cilium's
// engine loaded with the valid policies of results, as replay does (the
// same identities, CIDR and FQDN identities, cluster name and agent
// settings).
func Trace(results []verify.Result, settings agent.Settings, from, to *ir.Node, protocol string, port uint16) (*TraceResult, error) {
	eng, err := replay.New(settings)
	if err != nil {
		return nil, err
	}
	res := &TraceResult{From: from, To: to, Protocol: protocol, Port: port}
	var pols []replay.Policy
	for _, r := range results {
		if !r.Valid() {
			res.Invalid = append(res.Invalid, r)
			continue
		}
		p, err := replay.Decode(r.Object.Kind, r.Object.JSON)
		if err != nil {
			return nil, &InputError{Err: fmt.Errorf("%s: %w", r.Object.Where(), err)}
		}
		pols = append(pols, p)
	}
	res.Loaded = len(pols)
	if err := eng.Load(pols); err != nil {
		return nil, err
	}
	g := ir.New()
	g.Nodes[from.ID], g.Nodes[to.ID] = from, to
	if err := eng.AddGraph(g); err != nil {
		return nil, err
	}
	if res.Verdict, err = eng.Check(from, to, protocol, port); err != nil {
		return nil, &InputError{Err: err}
	}
	for _, end := range []struct {
		n, peer *ir.Node
		dst     *[]string
		point   replay.Point
		ingress bool
	}{{from, to, &res.FromPolicies, res.Verdict.Egress, false}, {to, from, &res.ToPolicies, res.Verdict.Ingress, true}} {
		refs, err := eng.Selecting(end.n)
		if err != nil {
			return nil, err
		}
		for _, r := range refs {
			if len(*end.dst) == 0 || (*end.dst)[len(*end.dst)-1] != r.Policy {
				*end.dst = append(*end.dst, r.Policy)
			}
		}
		if end.point.Decision == replay.Denied && len(end.point.By()) == 0 {
			if sg := suggest(refs, end.ingress, end.peer, protocol, port); sg != nil {
				res.Suggestions = append(res.Suggestions, *sg)
			}
		}
	}
	return res, nil
}

// Suggestion is the smallest change that allows a connection a point
// denies by default: a rule added to one section of a policy that selects
// that end.
type Suggestion struct {
	// Policy is the policy to change ("namespace/name", or a clusterwide
	// policy's name); Section the section to add Rule to ("spec.ingress",
	// "specs[1].egress").
	Policy  string         `json:"policy"`
	Section string         `json:"section"`
	Rule    map[string]any `json:"rule"`
}

// preferredKeys are the labels that name a workload, best first (those of
// the default rule pack's identity_keys).
var preferredKeys = []string{"app.kubernetes.io/name", "app", "k8s-app"}

// suggest is the rule for the point of end that denies by default, added
// to the first policy (by name) whose spec selects end; nil when the peer
// cannot be named in that direction (a DNS name is no ingress peer).
func suggest(refs []replay.SpecRef, ingress bool, peer *ir.Node, protocol string, port uint16) *Suggestion {
	if len(refs) == 0 {
		return nil
	}
	ref := refs[0]
	ns, _, namespaced := strings.Cut(ref.Policy, "/")
	if !namespaced {
		ns = ""
	}
	dir, from := "egress", "to"
	if ingress {
		dir, from = "ingress", "from"
	}
	rule := map[string]any{}
	switch peer.Kind {
	case ir.KindWorkload:
		sel := map[string]any{}
		labels := map[string]string{}
		for _, l := range peer.Labels {
			k, v, _ := strings.Cut(l, "=")
			if src, key, ok := strings.Cut(k, ":"); ok && src == "k8s" {
				labels[key] = v
			}
		}
		for _, k := range preferredKeys {
			if v, ok := labels[k]; ok {
				sel[k] = v
				break
			}
		}
		if len(sel) == 0 {
			for k, v := range labels {
				if k != "io.kubernetes.pod.namespace" && !strings.HasPrefix(k, "io.cilium.") && agent.IdentityLabel(k) {
					sel[k] = v
				}
			}
		}
		if peer.Namespace != ns {
			sel["k8s:io.kubernetes.pod.namespace"] = peer.Namespace
		}
		rule[from+"Endpoints"] = []any{map[string]any{"matchLabels": sel}}
	case ir.KindEntity:
		rule[from+"Entities"] = []any{peer.Entities[0]}
	case ir.KindCIDR:
		rule[from+"CIDR"] = []any{peer.CIDR}
	case ir.KindFQDN:
		if ingress {
			return nil
		}
		rule["toFQDNs"] = []any{map[string]any{"matchName": peer.FQDN}}
	default:
		return nil
	}
	switch protocol {
	case "ICMPv4", "ICMPv6":
		rule["icmps"] = []any{map[string]any{"fields": []any{map[string]any{"type": int(port), "family": "IPv" + protocol[len(protocol)-1:]}}}}
	default:
		rule["toPorts"] = []any{map[string]any{"ports": []any{map[string]any{"port": fmt.Sprint(port), "protocol": protocol}}}}
	}
	return &Suggestion{Policy: ref.Policy, Section: ref.Spec + "." + dir, Rule: rule}
}

// FlowAt lowers the one record of file at line (the first line of its
// value) into a graph with its connection, every attempt counting as
// replay counts it, so that it can be traced: its endpoints, protocol and
// port. A record that is no connection (a reply Hubble marks as one, an
// L7 response, a non-flow event) is an error saying why.
func FlowAt(ctx context.Context, file string, line int) (*ir.Graph, *ir.Edge, error) {
	b := lower.New(lower.Options{Attempts: true})
	b.AddSource(file)
	found, reason := false, ""
	stop := errors.New("found")
	_, _, err := flows.Read(ctx, []flows.Input{{Name: file}}, flows.Options{MaxErrors: 1 << 30}, func(r *flows.Record) error {
		if r.Pos.Line != line {
			return nil
		}
		found = true
		if r.Kind != flows.KindFlow {
			reason = "a " + r.Kind.String() + " record, not a flow"
			return stop
		}
		reason = b.Add(r, nil)
		return stop
	})
	if err != nil && !errors.Is(err, stop) {
		return nil, nil, &InputError{Err: err}
	}
	if !found {
		return nil, nil, &InputError{Err: fmt.Errorf("%s:%d: no record starts on that line", file, line)}
	}
	g := b.Graph()
	if len(g.Edges) != 1 {
		if reason == "" {
			reason = "its direction cannot be told from the record alone"
		}
		return nil, nil, &InputError{Err: fmt.Errorf("%s:%d: not a connection to trace: %s", file, line, reason)}
	}
	for _, e := range g.Edges {
		return g, e, nil
	}
	return nil, nil, nil
}
