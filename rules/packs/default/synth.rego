# Package ppc.synth decides the rules of every policy: one policy per
# workload group, with an ingress section built from the connections it
# received and an egress section that allows everything it was seen to
# reach (in-cluster peers, DNS, entities, FQDNs, CIDRs) — or no egress
# section at all, because any egress rule puts the workload in egress
# default-deny.
#
# Output (read by ppc):
#   policies[key]   {namespace, name, selector, subjects, ingress?, egress?,
#                    ingress_edges, egress_edges}
#   excluded[edge]  reason an observed edge is deliberately not allowed
#   warnings        set of {msg, object?}
package ppc.synth

import data.ppc.hooks
import data.ppc.identity
import data.ppc.lib

# ---- subjects -------------------------------------------------------------

ns_selected(ns) if count(lib.setting("namespaces", [])) == 0

ns_selected(ns) if ns in lib.setting("namespaces", [])

subject_ns_ok(ns) if {
	ns_selected(ns)
	not ns in hooks.exclude_namespace
}

# A complete object (evaluated once), so each lookup is O(1).
excluded_edge := {x.edge: x.reason | some x in hooks.exclude_edge}

# ---- peers ----------------------------------------------------------------

# peer describes how a rule names node id when seen from a policy in
# namespace ns: {"kind": "endpoints"|"entities"|"cidr"|"fqdn", "value": …}.
peer(id, ns) := {"kind": "endpoints", "value": object.union(identity.selector[id], nsl)} if {
	n := input.nodes[id]
	n.kind == "workload"
	nsl := ns_label(n.namespace, ns)
}

peer(id, _) := {"kind": "entities", "value": entity(input.nodes[id])} if input.nodes[id].kind == "entity"

peer(id, _) := {"kind": "cidr", "value": input.nodes[id].cidr} if {
	input.nodes[id].kind == "cidr"
	lib.setting("world_peers", "cidr") == "cidr"
}

peer(id, _) := {"kind": "entities", "value": "world"} if {
	input.nodes[id].kind in {"cidr", "fqdn"}
	lib.setting("world_peers", "cidr") == "entity"
}

peer(id, _) := {"kind": "fqdn", "value": input.nodes[id].fqdn} if {
	input.nodes[id].kind == "fqdn"
	lib.setting("world_peers", "cidr") == "cidr"
	regex.match(`^[-a-zA-Z0-9_.]+$`, input.nodes[id].fqdn)
}

ns_label(peer_ns, ns) := {} if peer_ns == ns

ns_label(peer_ns, ns) := {lib.namespace_key: peer_ns} if peer_ns != ns

# entity picks the entity a reserved peer is allowed by: the first of
# config entity_preference it carries.
entity(n) := es[0] if {
	es := [e | some e in lib.setting("entity_preference", []); e in n.entities]
	count(es) > 0
} else := n.entities[0]

# unexpressible_ingress[edge] / unexpressible_egress[edge] say why an edge
# cannot be written as a rule of the policy at its destination (source).
# Keyed by the plain edge ID with key-driven bodies, so that a lookup costs
# one evaluation, not a scan of every edge.
unexpressible_ingress[id] := why if {
	some id
	e := input.edges[id]
	identity.member[e.dst]
	not peer(e.src, input.nodes[e.dst].namespace)
	why := peer_problem(e.src)
}

unexpressible_egress[id] := why if {
	some id
	e := input.edges[id]
	identity.member[e.src]
	not dns_edge(e)
	not peer(e.dst, input.nodes[e.src].namespace)
	why := peer_problem(e.dst)
}

peer_problem(id) := sprintf("peer %s cannot be selected: %s", [id, identity.unselectable[id]]) if identity.unselectable[id]

peer_problem(id) := sprintf("peer %s: DNS name is not a valid toFQDNs matchName", [id]) if input.nodes[id].kind == "fqdn"

peer_problem(id) := sprintf("peer %s cannot be expressed", [id]) if {
	not identity.unselectable[id]
	input.nodes[id].kind != "fqdn"
}

# ---- DNS --------------------------------------------------------------------

dns := lib.setting("dns", {})

dns_selector := object.get(dns, "selector", {})

# dns_server(id): the workload matches the configured DNS selector.
dns_server(id) if {
	n := input.nodes[id]
	n.kind == "workload"
	labels := identity.k8s_labels(n)
	count(dns_selector) > 0
	every k, v in dns_selector {
		key := trim_prefix(k, "k8s:")
		labels[key] == v
	}
}

dns_edge(e) if {
	dns_server(e.dst)
	e.protocol in {"UDP", "TCP"}
	e.port in object.get(dns, "ports", [53])
}

dns_rule := {
	"toEndpoints": [{"matchLabels": dns_selector}],
	"toPorts": [{
		"ports": sort([{"port": format_int(p, 10), "protocol": proto} |
			some p in object.get(dns, "ports", [53])
			some proto in ["UDP", "TCP"]
		]),
		"rules": {"dns": [{"matchPattern": object.get(dns, "match_pattern", "*")}]},
	}],
}

# ---- edges per group ------------------------------------------------------

# The edges arriving at (leaving) a group's members, found through the
# adjacency lists ppc adds to the input, so grouping is linear.
in_edges[g] := es if {
	some g
	identity.groups[g]
	es := [e |
		some n in identity.members[g]
		some id in object.get(input["in"], n, [])
		not excluded_edge[id]
		e := input.edges[id]
	]
}

out_edges[g] := es if {
	some g
	identity.groups[g]
	es := [e |
		some n in identity.members[g]
		some id in object.get(input.out, n, [])
		not excluded_edge[id]
		e := input.edges[id]
	]
}

# A direction of a group is synthesised only when every edge in it can be
# expressed: a partial section would deny the rest.
blocked(g, side) if {
	some e in edges_of(g, side)
	unexpressible(e.id, side)
}

unexpressible(id, "ingress") := unexpressible_ingress[id]

unexpressible(id, "egress") := unexpressible_egress[id]

edges_of(g, "ingress") := in_edges[g]

edges_of(g, "egress") := out_edges[g]

# ---- rules ----------------------------------------------------------------

# rules_for renders the rules for a list of edges of one side. Ports are
# merged per peer, sorted and split into chunks of max_ports_per_rule;
# peers of one kind that are allowed exactly the same ports share a rule;
# ICMP gets rules of its own (Cilium forbids icmps and toPorts in one rule).
rules_for(edges, ns, dir) := rules if {
	tagged := [[peer(e[end], ns), e] | some e in edges; end := peer_end(dir)]
	peers := {p | some [p, _] in tagged}
	ports_of := {p: ts |
		some p in peers
		ts := sort({[e.protocol, e.port] | some [p2, e] in tagged; p2 == p; e.protocol in lib.l4_protocols})
	}
	icmp_of := {p: fs |
		some p in peers
		fs := sort({{"family": lib.icmp_family[e.protocol], "type": e.port} |
			some [p2, e] in tagged
			p2 == p
			lib.icmp_family[e.protocol]
		})
	}
	max := lib.setting("max_ports_per_rule", 40)
	l4 := [r |
		some [kind, ts] in {[p.kind, ts] | some p, ts in ports_of; count(ts) > 0}
		values := sort([p.value | some p, ts2 in ports_of; p.kind == kind; ts2 == ts])
		ports := sort_ports([lib.port_entry(t) | some t in ts])
		r := object.union(peer_field(kind, values, dir), {"toPorts": [{"ports": c} | some c in lib.chunk(ports, max)]})
	]
	icmp := [r |
		some [kind, fs] in {[p.kind, fs] | some p, fs in icmp_of; count(fs) > 0}
		values := sort([p.value | some p, fs2 in icmp_of; p.kind == kind; fs2 == fs])
		some c in lib.chunk(fs, 40)
		r := object.union(peer_field(kind, values, dir), {"icmps": [{"fields": c}]})
	]
	rules := array.concat(l4, icmp)
}

peer_end("ingress") := "src"

peer_end("egress") := "dst"

sort_ports(ps) := [p | some t in sort([[to_number(q.port), q.protocol, q] | some q in ps]); p := t[2]]

peer_field("endpoints", vs, "ingress") := {"fromEndpoints": [{"matchLabels": v} | some v in vs]}

peer_field("entities", vs, "ingress") := {"fromEntities": vs}

peer_field("cidr", vs, "ingress") := {"fromCIDR": vs}

peer_field("endpoints", vs, "egress") := {"toEndpoints": [{"matchLabels": v} | some v in vs]}

peer_field("entities", vs, "egress") := {"toEntities": vs}

peer_field("cidr", vs, "egress") := {"toCIDR": vs}

peer_field("fqdn", vs, "egress") := {"toFQDNs": [{"matchName": v} | some v in vs]}

# dns_group(g): the group selects the cluster's DNS servers. Every pod must
# reach them, and every egress section ppc writes allows it, but no capture
# shows every client: unless config dns.ingress is true they get no
# ingress section, which would cut off the pods the capture missed.
dns_group(g) if {
	object.get(dns, "ingress", false) != true
	some id in identity.members[g]
	dns_server(id)
}

ingress_section(g) := {"rules": rules, "edges": sort([e.id | some e in es])} if {
	grp := identity.groups[g]
	not grp.namespace in hooks.exclude_ingress_namespace
	not dns_group(g)
	es := in_edges[g]
	count(es) > 0
	not blocked(g, "ingress")
	rules := rules_for(es, grp.namespace, "ingress")
}

egress_section(g) := {"rules": rules, "edges": sort([e.id | some e in es])} if {
	grp := identity.groups[g]
	not grp.namespace in hooks.exclude_egress_namespace
	es := out_edges[g]
	count(es) > 0
	not blocked(g, "egress")
	plain := [e | some e in es; not dns_edge(e)]
	needs_dns := (count([e | some e in es; dns_edge(e)]) + count([e | some e in plain; input.nodes[e.dst].kind == "fqdn"])) > 0
	dns_rules := [dns_rule | needs_dns_rule(needs_dns)]
	rules := array.concat(dns_rules, rules_for(plain, grp.namespace, "egress"))
}

needs_dns_rule(_) if object.get(dns, "always", true) == true

needs_dns_rule(true)

# ---- policies ---------------------------------------------------------------

policies[key] := pol if {
	some g, grp in identity.groups
	subject_ns_ok(grp.namespace)
	name := identity.name[g]
	key := concat("/", [grp.namespace, name])
	sections := {side: s |
		some side in ["ingress", "egress"]
		s := section(g, side)
	}
	count(sections) > 0
	pol := object.union(
		{
			"namespace": grp.namespace,
			"name": name,
			"selector": grp.selector,
			"subjects": identity.members[g],
			"labels": object.union(lib.setting("policy_labels", {}), {x.key: x.value | some x in hooks.policy_labels}),
			"ingress_edges": object.get(sections, ["ingress", "edges"], []),
			"egress_edges": object.get(sections, ["egress", "edges"], []),
		},
		{side: s.rules | some side, s in sections},
	)
}

section(g, "ingress") := ingress_section(g)

section(g, "egress") := egress_section(g)

# ---- warnings -----------------------------------------------------------------

warnings contains {"msg": sprintf("workload %s gets no policy: %s", [id, why]), "object": id} if {
	some id, why in identity.unselectable
	subject_ns_ok(input.nodes[id].namespace)
	some e in input.edges
	id in {e.src, e.dst}
}

warnings contains {"msg": sprintf("%s section omitted: %s", [side, why]), "policy": concat("/", [grp.namespace, identity.name[g]])} if {
	some g, grp in identity.groups
	subject_ns_ok(grp.namespace)
	some side in ["ingress", "egress"]
	some e in edges_of(g, side)
	why := unexpressible(e.id, side)
}
