# Package ppc.synth decides the rules of every policy: one policy per
# workload group, default-deny in both directions, with an ingress section
# built from the connections it received and an egress section that allows
# everything it was seen to reach (in-cluster peers, DNS, entities, FQDNs,
# CIDRs). A direction in which nothing was observed gets one empty rule
# ({}), which isolates the workload without allowing anything. A
# connection that cannot be written as a rule is excluded (left denied)
# and reported; the rest of its section is still written (fail closed).
#
# Output (read by ppc):
#   policies[key]        {cluster, namespace, name, selector, subjects,
#                         labels, ingress?, egress?, ingress_edges,
#                         egress_edges, clusterwide?, default_deny?}
#   excluded_edge[edge]  reason an observed edge is deliberately not allowed
#   warnings             set of {msg, policy?, object?}
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

# exclusion_reasons[edge] are the reasons an observed edge is left
# denied: an organisation hook, a peer ppc cannot express, or a port with
# no evidence that anything listens on it.
exclusion_reasons[id] contains x.reason if {
	some x in hooks.exclude_edge
	id := x.edge
}

exclusion_reasons[id] contains why if {
	some id, why in unexpressible_ingress
}

exclusion_reasons[id] contains why if {
	some id, why in unexpressible_egress
}

exclusion_reasons[id] contains why if {
	any_ephemeral
	lo := ephemeral_from
	hi := ephemeral_to
	some id, e in input.edges
	e.port >= lo
	e.port <= hi
	e.protocol in lib.l4_protocols
	not listening_evidence(e)
	why := sprintf("port %d is in the ephemeral range and no connection shows %s listening on it (a reply read as a request?)", [e.port, e.dst])
}

# A complete object (evaluated once), so each lookup is O(1).
excluded_edge := {id: concat("; ", sort(rs)) | some id, rs in exclusion_reasons}

# ephemeral_from and ephemeral_to bound the range clients take their
# ports from (config ephemeral_ports, Linux's default 32768-60999). (Each
# edge's port is compared first, with the bounds read once before the
# loop: most ports are not in it, and that is one expression.)
ephemeral_from := ephemeral_range.from

ephemeral_to := ephemeral_range.to

ephemeral_range := lib.setting("ephemeral_ports", {"from": 32768, "to": 60999})

# any_ephemeral: some edge's port is in the ephemeral range. ppc counts
# the edges by port (input.ports), so that the pass over the edges above
# runs only when one is; an input without the counts is scanned.
any_ephemeral if {
	some p, _ in input.ports
	p >= ephemeral_from
	p <= ephemeral_to
}

any_ephemeral if not input.ports

# listening_evidence(e): some connection on the edge had its direction
# stated by Hubble's records (is_reply, the reverse tuple, TCP flags, L7,
# ICMP) or was decided because its server is seen listening on the port.
listening_evidence(e) if {
	some kind, n in object.get(e, "direction", {})
	n > 0
	kind in {"is_reply", "reverse_tuple", "tcp_flags", "l7", "icmp_type", "listening_port"}
}

# ---- peers ----------------------------------------------------------------

# A peer is how a rule names a node: [kind, value], kind "endpoints"
# (value: an endpoint selector, {"matchLabels": …}), "entities", "cidr"
# or "fqdn" (value: the entity, prefix or name). peer_forms[id][same]
# names node id from a policy of its own namespace (same: true) or of
# another (false), which adds a workload's namespace label to its
# selector; node_peers[id] is the first. A complete object over the nodes,
# so that each edge's peer is a lookup (peer_forms[e.src][e.same_namespace])
# rather than a new selector; undefined for a node no rule can name. A
# shard of the evaluation reads it from input.shard.context, where it was
# computed once for every node (not once per shard for each node it sees).
peer_forms := input.shard.context.peer_forms if {
	input.shard
} else := {id: {true: p, false: far_form(p, input.nodes[id])} | some id, p in node_peers}

far_form(p, n) := ["endpoints", {"matchLabels": object.union(p[1].matchLabels, {lib.namespace_key: n.namespace})}] if {
	p[0] == "endpoints"
} else := p

# node_peers[id] is how a rule names node id from its own namespace: what
# peer_forms is made of. (A shard reads peer_forms from its context and
# never evaluates this.)
node_peers := object.union(workload_peers, {id: p | some id, n in input.nodes; n.kind != "workload"; p := node_peer(n)})

# workload_peers[id] names workload id by its selector, and its cluster's
# label when the flows span several clusters.
workload_peers := {id: ["endpoints", {"matchLabels": object.union(sel, cluster_label(input.nodes[id]))}] |
	some id, sel in identity.selector
} if {
	identity.multi_cluster
} else := {id: ["endpoints", {"matchLabels": sel}] | some id, sel in identity.selector}

# node_peer(n) names a node other than a workload.
node_peer(n) := ["entities", entity(n)] if n.kind == "entity"

node_peer(n) := ["cidr", n.cidr] if {
	n.kind == "cidr"
	lib.setting("world_peers", "cidr") == "cidr"
}

node_peer(n) := ["entities", "world"] if {
	n.kind in {"cidr", "fqdn"}
	lib.setting("world_peers", "cidr") == "entity"
}

node_peer(n) := ["fqdn", n.fqdn] if {
	n.kind == "fqdn"
	lib.setting("world_peers", "cidr") == "cidr"
	regex.match(`^[-a-zA-Z0-9_.]+$`, n.fqdn)
}

# cluster_label(n) selects a peer's cluster when the flows span several
# (ClusterMesh): explicit, so the rule is right whatever the agents'
# policy-default-local-cluster says.
cluster_label(n) := {lib.cluster_key: c} if {
	identity.multi_cluster
	c := identity.cluster_of(n)
	c != ""
} else := {}

# entity picks the entity a reserved peer is allowed by: the first of
# config entity_preference it carries.
entity(n) := es[0] if {
	es := [e | some e in lib.setting("entity_preference", []); e in n.entities]
	count(es) > 0
} else := n.entities[0]

# unexpressible_ingress[edge] / unexpressible_egress[edge] say why an edge
# cannot be written as a rule of the policy at its destination (source).
# Whether a node can be named as a peer does not depend on the namespace
# of the policy naming it, so it is decided once per node (unpeerable),
# and each edge costs a lookup (none when every node can be named).
unexpressible_ingress := {id: peer_problem(e.src) |
	count(unpeerable) > 0
	some id, e in input.edges
	unpeerable[e.src]
	identity.selector[e.dst]
}

unexpressible_egress := {id: peer_problem(e.dst) |
	count(unpeerable) > 0
	some id, e in input.edges
	unpeerable[e.dst]
	identity.selector[e.src]
	not dns_edge(e)
}

# unpeerable are the nodes no rule can name (peer is undefined).
unpeerable := {id | some id, _ in input.shard.context.unpeerable; input.nodes[id]} if {
	input.shard # read from the context, computed once for every node
} else := {id | forms := peer_forms; some id, _ in input.nodes; not forms[id]}

peer_problem(id) := sprintf("peer %s cannot be selected: %s", [id, identity.unselectable[id]]) if identity.unselectable[id]

peer_problem(id) := sprintf("peer %s: DNS name is not a valid toFQDNs matchName", [id]) if input.nodes[id].kind == "fqdn"

peer_problem(id) := sprintf("peer %s cannot be expressed", [id]) if {
	not identity.unselectable[id]
	input.nodes[id].kind != "fqdn"
}

# ---- DNS --------------------------------------------------------------------

dns := lib.setting("dns", {})

dns_selector := object.get(dns, "selector", {})

# dns_servers are the workloads the DNS selector matches (a complete set,
# evaluated once).
dns_servers := {id | some id, _ in input.shard.context.dns_servers} if {
	input.shard
} else := {id |
	count(dns_selector) > 0
	want := [[trim_prefix(k, "k8s:"), v] | some k, v in dns_selector]
	some id, labels in identity.workload_labels
	every kv in want {
		labels[kv[0]] == kv[1]
	}
}

# dns_edge(e): e reaches a DNS server on a DNS port.
dns_edge(e) if dns_targets[e.dst][e.port][e.protocol]

# dns_targets[server][port] are the protocols of the DNS servers' DNS
# ports: each edge's check is a lookup, which fails at once for an edge
# to another node.
dns_targets := {id: {p: {"UDP", "TCP"} | some p in object.get(dns, "ports", [53])} | some id in dns_servers}

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

# dns_rule_of(g) is group g's DNS rule: dns_rule, or with config dns.names
# "observed" and names seen for the group, rules.dns for those names only:
# the DNS proxy then refuses other lookups. matchName for a name,
# matchPattern "*.<parent>" once dns.fold_names names share a parent
# domain, and dns.local_patterns (the cluster's own domain, which
# resolv.conf search paths expand every name into) always.
dns_rule_of(g) := object.union(dns_rule, {"toPorts": [object.union(dns_rule.toPorts[0], {"rules": {"dns": dns_names_rules[g]}})]}) if {
	dns_names_rules[g]
} else := dns_rule

# dns_names[g] are the names group g was seen looking up (Hubble's DNS
# records on its edges to the DNS servers) or reaching (toFQDNs peers).
dns_names[g] contains name if {
	names_observed
	some [g, e] in egress_side
	dns_edge(e)
	some name in object.get(e, ["l7", "dns"], [])
}

dns_names[g] contains e.dst_node.fqdn if {
	names_observed
	some [g, e] in egress_side
	e.dst_node.kind == "fqdn"
}

names_observed if object.get(dns, "names", "any") == "observed"

# dns_names_rules[g] are group g's rules.dns (a complete object, evaluated
# once: each policy's lookup is O(1), and nothing at all is evaluated
# unless dns.names is "observed").
dns_names_rules := {g: rules |
	names_observed
	some g, names in dns_names
	count(names) > 0
	rules := sort(array.concat(
		[{"matchPattern": p} | some p in object.get(dns, "local_patterns", ["**.cluster.local"])],
		[x | some x in dns_name_matches(names)],
	))
}

# dns_name_matches(names): matchPattern "*.<parent>" for a parent domain
# dns.fold_names of the names share, matchName for every other name; a
# name a "**.<domain>" local pattern covers needs neither.
dns_name_matches(names) := {m |
	some n in names
	not local_name(n)
	m := name_match(n, names)
}

local_name(n) if {
	some p in object.get(dns, "local_patterns", ["**.cluster.local"])
	startswith(p, "**.")
	endswith(n, substring(p, 2, -1))
}

name_match(n, names) := {"matchPattern": concat(".", ["*", parent])} if {
	parent := parent_domain(n)
	count({x | some x in names; parent_domain(x) == parent}) >= object.get(dns, "fold_names", 5)
} else := {"matchName": n}

parent_domain(n) := substring(n, indexof(n, ".") + 1, -1) if indexof(n, ".") > 0

# ---- edges by side ---------------------------------------------------------

# ingress_side and egress_side are the observed edges a policy allows, by
# the policy side they are written on: [group, edge] for the group at the
# edge's destination (ingress) or source (egress). Everything below groups
# these two lists (ppc.group_by), so synthesis is one pass over the edges
# however they are spread over groups; a table of one side walks only
# that side's list. (Rules a loop reads are bound to a variable before
# it: a rule's value is looked up once, not per edge. The sides are a
# join of the edges with identity.member, lib.pairs_by: a comprehension
# cost three expressions an edge.)
ingress_side := lib.pairs_by(allowed_edges, "dst", identity.member)

egress_side := lib.pairs_by(allowed_edges, "src", identity.member)

# allowed_edges are the edges not excluded (one object.remove, rather than
# a lookup per edge and side).
allowed_edges := input.edges if {
	count(excluded_edge) == 0
} else := object.remove(input.edges, excluded_edge)

# decided are the groups whose policies this evaluation decides: all of
# them, unless ppc evaluates the pack per shard of namespaces
# (input.shard): then those of the shard's namespaces, the others' being
# decided in the shards that hold them. (identity.member already holds
# only the decided namespaces' workloads, so the sides above need no
# check of their own; policies and warnings check this set.)
decided := {g | some g, grp in identity.groups; lib.decides(grp.namespace)}

# section_edges[[group, side]] are the sorted IDs of the edges a section
# allows.
section_edges := object.union(
	{[g, "ingress"]: ids | some [g, ids] in lib.field_groups(ingress_side, "id")},
	{[g, "egress"]: ids | some [g, ids] in lib.field_groups(egress_side, "id")},
)

# Public services: a port of a group that many distinct world addresses
# reach (config world_clients.public_service, 0 turns it off) is open to
# world on that port rather than to a list of /32s that the next client
# is not on.
# (A complete object, evaluated once: a lookup per edge is O(1).)
public_port := {k: n |
	min := object.get(lib.setting("world_clients", {}), "public_service", 0)
	min > 0
	some [k, srcs] in lib.groups([[[g, e.protocol, e.port], e.src] | some [g, e] in cidr_ingress])
	n := count(srcs)
	n >= min
}

# ingress_peer(e, g) is the peer group g's ingress rule names the source
# of edge e by; egress_peer(e, g) its egress rule the destination.
# (The ends' namespaces compare as equal when both are in one namespace;
# a node outside every namespace, such as an entity, is named alike from
# any policy.)
ingress_peer(e, g) := ["entities", "world"] if {
	e.src_node.kind == "cidr"
	public_port[[g, e.protocol, e.port]]
} else := peer_forms[e.src][e.same_namespace]

egress_peer(e, g) := ["cidr", p] if {
	e.dst_node.kind == "cidr"
	p := folded[[g, e.protocol, e.port, e.dst_node.cidr]]
} else := peer_forms[e.dst][e.same_namespace]

# ---- unnamed world egress -------------------------------------------------

# Addresses outside the cluster that a group reaches with no DNS name in
# the flows (no toFQDNs possible) and on one port are folded, when at
# least config world_egress.fold.min_addresses of them share a prefix of
# world_egress.fold.ipv4 (ipv6) bits, into the smallest prefix that
# covers them: an address the service adds next to them is allowed, one
# farther away is not. 0 turns folding off for the family.
fold := object.get(lib.setting("world_egress", {}), "fold", {})

fold_len(c) := object.get(fold, "ipv6", 0) if contains(c, ":")

fold_len(c) := object.get(fold, "ipv4", 0) if not contains(c, ":")

host_len(c) := 128 if contains(c, ":")

host_len(c) := 32 if not contains(c, ":")

# network(c, l) is the prefix of l bits that holds the address of c.
network(c, l) := p if {
	some p in net.cidr_merge([sprintf("%s/%d", [split(c, "/")[0], l])])
}

# fold_bucket[c] is the prefix of the fold length that holds unnamed
# address c (a /32 or /128 CIDR node that folding applies to): addresses
# fold only with others of their bucket. A complete object over the
# nodes: an address's bucket is computed once, however many groups reach
# it.
fold_bucket := {c: network(c, f) |
	lib.setting("world_peers", "cidr") == "cidr"
	some n in input.nodes
	n.kind == "cidr"
	c := n.cidr
	h := host_len(c)
	endswith(c, sprintf("/%d", [h]))
	f := fold_len(c)
	f > 0
	f < h
}

# world_out[[g, protocol, port, bucket]] are the unnamed addresses group g
# reaches on that port, by the fold-length prefix they are in. These are
# complete objects, evaluated once, so that the lookup per edge in
# egress_peer is O(1).
world_out := {k: {c | some c in cs} |
	buckets := fold_bucket
	some [k, cs] in lib.groups([[[g, e.protocol, e.port, buckets[c]], c] |
		some [g, e] in cidr_egress
		c := e.dst_node.cidr
	])
}

# fold_sets[[g, protocol, port, prefix]] are the addresses folded into prefix.
fold_sets := {[g, proto, port, p]: cs |
	some [g, proto, port, _], cs in world_out
	count(cs) >= object.get(fold, "min_addresses", 2)
	p := covering(cs)
}

folded := {[g, proto, port, c]: p |
	some [g, proto, port, p], cs in fold_sets
	some c in cs
}

# covering(cs) is the smallest prefix that holds every address of cs (ppc's
# builtin: Rego has no prefix arithmetic but net.cidr_merge).
covering(cs) := ppc.covering_prefix(cs)

# ---- rules ----------------------------------------------------------------

# section_rules[[group, side]] are the rules written for the edges of a
# section (DNS edges of egress have their own rule, see dns_rule). Ports
# are merged per peer, sorted and split into chunks of max_ports_per_rule;
# peers of one kind that are allowed exactly the same ports share a rule;
# ICMP gets rules of its own (Cilium forbids icmps and toPorts in one
# rule). Rules are ordered by peer kind, then ports; ICMP rules last
# (each item is [kind, sort key, rule]).
section_rules := {k: [r | some [_, _, r] in items] |
	some [k, items] in lib.groups(array.concat(array.concat(l4_rules, icmp_rules), http_rules))
}

# ruled_ingress is the ingress side without the edges other rules allow:
# those with HTTP rules (http_rules) and those from the nodes (the
# clusterwide node baseline). With neither configured, it is the whole
# side (no pass over it). On egress, the edges to the DNS servers are
# left to dns_rule (see egress_ports).
ruled_ingress := ingress_side if {
	not http_observed
	not clusterwide_nodes
} else := [[g, e] | some [g, e] in ingress_side; not http_side_edge("ingress", e); not node_side_edge("ingress", e)]

# l4_ingress and l4_egress are the sides' TCP, UDP and SCTP edges: the
# sides as they are when no edge is ICMP.
l4_ingress := ruled_ingress if {
	not any_icmp
} else := [x | some x in ruled_ingress; lib.l4_protocols[x[1].protocol]]

l4_egress := egress_side if {
	not any_icmp
} else := [x | some x in egress_side; lib.l4_protocols[x[1].protocol]]

# ingress_ports: [[[group, "ingress", kind], value], [port, protocol]]
# for each edge of l4_ingress, its source named as the group's rule names
# it (ingress_peer: a peer [kind, value]): the peers are looked up in
# peer_forms, read once before the loop, rather than by a function call
# per edge (several times the cost of a lookup). A source outside the
# cluster, named by the group and port (public ports), is left to
# ingress_peer.
ingress_ports := array.concat(
	[[[[g, "ingress", kind], v], [e.port, e.protocol]] |
		forms := peer_forms
		some [g, e] in l4_ingress
		e.src_node.kind != "cidr"
		[kind, v] := forms[e.src][e.same_namespace]
	],
	[[[[g, "ingress", kind], v], [e.port, e.protocol]] |
		some [g, e] in l4_cidr_ingress
		[kind, v] := ingress_peer(e, g)
	],
)

# egress_ports: the same for l4_egress and its destinations (egress_peer;
# an address outside the cluster may be folded into a prefix), without
# the edges to the DNS servers on DNS ports (dns_rule allows them).
egress_ports := array.concat(
	[[[[g, "egress", kind], v], [e.port, e.protocol]] |
		forms := peer_forms
		dns := dns_targets
		some [g, e] in l4_egress
		e.dst_node.kind != "cidr"
		[kind, v] := forms[e.dst][e.same_namespace]
		not dns[e.dst][e.port][e.protocol]
	],
	[[[[g, "egress", kind], v], [e.port, e.protocol]] |
		some [g, e] in l4_cidr_egress
		[kind, v] := egress_peer(e, g)
	],
)

# cidr_ingress and cidr_egress are the sides' edges whose peer is an
# address outside the cluster (a CIDR node), l4_cidr_ingress and
# l4_cidr_egress those of l4_ingress and l4_egress: one pass over each
# side serves the public ports, the folded prefixes and the rules. (An l4
# list is its side filtered, so when it is as long as the side it is the
# side, and so are their CIDR edges. Without CIDR nodes there is no pass.)
cidr_ingress := [x | some x in ingress_side; x[1].src_node.kind == "cidr"] if {
	any_cidr
} else := []

cidr_egress := [x | some x in egress_side; x[1].dst_node.kind == "cidr"] if {
	any_cidr
} else := []

l4_cidr_ingress := cidr_ingress if {
	count(l4_ingress) == count(ingress_side)
} else := [x | some x in l4_ingress; x[1].src_node.kind == "cidr"]

l4_cidr_egress := cidr_egress if {
	count(l4_egress) == count(egress_side)
} else := [x | some x in l4_egress; x[1].dst_node.kind == "cidr"]

# any_cidr: some node of this evaluation is a CIDR node; any_fqdn: a DNS
# name (a pass over the nodes spares one over every port group).
any_cidr if {
	some n in input.nodes
	n.kind == "cidr"
}

any_fqdn if {
	some n in input.nodes
	n.kind == "fqdn"
}

# any_icmp: some edge is ICMP (most captures have none). ppc counts the
# edges by protocol (input.protocols); an input without it is scanned.
any_icmp if {
	some p, _ in lib.icmp_family
	input.protocols[p] > 0
}

any_icmp if {
	not input.protocols
	some e in input.edges
	lib.icmp_family[e.protocol]
}

# icmp_groups: [[[group, side, kind], fields], [value, ...]], as
# port_groups for the ICMP fields ({family, type}) each peer was seen
# with. (An ICMP edge is never a DNS edge nor one with HTTP rules.)
icmp_groups := lib.set_groups(array.concat(
	[[[[g, "ingress", kind], v], {"family": f, "type": e.port}] |
		any_icmp
		some [g, e] in ruled_ingress
		f := lib.icmp_family[e.protocol]
		[kind, v] := ingress_peer(e, g)
	],
	[[[[g, "egress", kind], v], {"family": f, "type": e.port}] |
		any_icmp
		some [g, e] in egress_side
		f := lib.icmp_family[e.protocol]
		[kind, v] := egress_peer(e, g)
	],
))

# l4_rules: [[group, side], [kind, ports, rule]], one rule per peer kind
# and port set, its peers listed together (peer_rule, written out: a
# function call per rule cost more than the rest of the rule).
l4_rules := array.concat(
	[[[g, side], [kind, ts, {fields[side][kind]: values, "toPorts": to_ports(ts)}]] |
		fields := peer_fields
		some [[[g, side, kind], ts], values] in port_groups
		kind != "fqdn"
	],
	[[[g, "egress"], ["fqdn", ts, {"toFQDNs": fqdn_selectors(values), "toPorts": to_ports(ts)}]] |
		any_fqdn
		some [[[g, "egress", "fqdn"], ts], values] in port_groups
	],
)

# port_groups: [[[group, side, kind], ports], [value, ...]]: the peers of
# one kind of a section allowed exactly the same ports (sorted [port,
# protocol] tuples), from each peer's ports (lib.set_groups).
port_groups := lib.set_groups(array.concat(ingress_ports, egress_ports))

# to_ports renders sorted [port, protocol] tuples as toPorts entries of at
# most max_ports_per_rule ports. (A function: OPA remembers its result for
# each port set, and most peers share a few.)
to_ports(ts) := [{"ports": c} | some c in lib.chunk([lib.port_entry(t) | some t in ts], max_ports)]

max_ports := lib.setting("max_ports_per_rule", 40)

icmp_rules := [[[g, side], ["~icmp", [kind, fs, i], r]] |
	any_icmp
	some [[[g, side, kind], fs], values] in icmp_groups
	some i, c in lib.chunk(fs, 40)
	r := peer_rule(kind, values, side, "icmps", [{"fields": c}])
]

# peer_rule(kind, vs, side, k, x) is the rule of side naming the values
# vs of peers of one kind, with field k (toPorts, icmps) x. (No rule
# names a DNS name as a source.)
peer_rule("fqdn", vs, "egress", k, x) := {"toFQDNs": fqdn_selectors(vs), k: x}

peer_rule(kind, vs, side, k, x) := {peer_fields[side][kind]: vs, k: x} if kind != "fqdn"

# peer_fields[side][kind] is the field of a rule of side that lists peers
# of kind (but DNS names, see fqdn_selectors).
peer_fields := {
	"ingress": {"endpoints": "fromEndpoints", "entities": "fromEntities", "cidr": "fromCIDR"},
	"egress": {"endpoints": "toEndpoints", "entities": "toEntities", "cidr": "toCIDR"},
}

# fqdn_selectors: matchName for each name; with config dns.names
# "observed", matchPattern "*.<parent>" for dns.fold_names or more names
# under one parent domain (reached on the same ports), as the DNS rule
# folds the lookups (dns_name_matches), so both allow the same names.
fqdn_selectors(vs) := sort({name_match(v, vs) | some v in vs}) if {
	object.get(dns, "names", "any") == "observed"
} else := [{"matchName": v} | some v in vs]

# ---- L7: HTTP rules from observed requests ------------------------------------

# With config l7.http "observed", an edge whose HTTP requests Hubble
# recorded (all of them: not truncated) gets, at the server's ingress, a
# rule of its own whose toPorts entry carries rules.http for those requests
# instead of joining the L3/L4 rules: Cilium merges an L4-only allow and an
# L7 allow of the same peer and port into "every request", so the two
# never share a peer and port.
l7 := lib.setting("l7", {})

http_observed if object.get(l7, "http", "off") == "observed"

http_side_edge("ingress", e) if {
	http_observed
	e.protocol == "TCP"
	http_recorded(e)
	not http_unsafe[[identity.member[e.dst], e.port]]
}

# http_recorded(e): Hubble recorded every HTTP request of the edge.
http_recorded(e) if {
	count(object.get(e, ["l7", "http"], [])) > 0
	not e.l7.truncated
}

# http_unsafe[[g, port]]: a connection to group g's TCP port carried no
# recorded HTTP request (not HTTP, or not visible to the proxy) while
# another did. An HTTP rule on the port would send every connection to it
# through Envoy's HTTP parser, breaking the others: no HTTP rule is written
# there (the edges keep their L3/L4 rules) and a warning says why.
# (http_unsafe and http_fallback are complete sets, evaluated once: as
# partial sets, each edge's lookup grouped every edge of the side again,
# 58 s for 4,000 clients of one HTTP service.)
http_unsafe := {k |
	http_observed
	some [k, kinds] in lib.groups([[[g, e.port], http_recorded_text(e)] |
		some [g, e] in ingress_side
		e.protocol == "TCP"
	])
	count(kinds) > 1
}

http_recorded_text(e) := "http" if http_recorded(e)

http_recorded_text(e) := "other" if not http_recorded(e)

# http_requests[[g, port]] are the distinct requests to group g's port.
http_requests := {k: reqs |
	http_observed
	some [k, reqs] in lib.groups([[[g, e.port], r] |
		some [g, e] in ingress_side
		http_side_edge("ingress", e)
		some r in e.l7.http
	])
}

# http_rules: [[group, "ingress"], ["~http", [kind, port, rules], rule]],
# one rule per peer kind, port and set of HTTP rules, its peers listed
# together.
http_rules := [[[g, "ingress"], ["~http", [kind, port, rs], r]] |
	http_observed
	some [[g, kind, port, rs], values] in lib.groups([[[g, kind, e.port, edge_http_rules(g, e)], v] |
		some [g, e] in ingress_side
		http_side_edge("ingress", e)
		[kind, v] := ingress_peer(e, g)
	])
	r := peer_rule(kind, values, "ingress", "toPorts", [{
		"ports": [{"port": format_int(port, 10), "protocol": "TCP"}],
		"rules": {"http": rs},
	}])
]

# edge_http_rules(g, e) are the rules.http entries for the requests of edge
# e: its requests' patterns, templated and folded over every request to
# the port; one rule per method where the port falls back (http_fallback).
edge_http_rules(g, e) := sort({{"method": regex_escape(r.method)} | some r in e.l7.http}) if {
	http_fallback[[g, e.port]]
} else := sort({{"method": regex_escape(r.method), "path": path_pattern(r, http_requests[[g, e.port]])} | some r in e.l7.http})

# http_fallback[[g, port]]: the port's templates would be more than
# l7.max_rules_per_port rules, or a path is longer than l7.max_path.
http_fallback := {k |
	some k, reqs in http_requests
	http_falls_back(reqs)
}

http_falls_back(reqs) if {
	count({[r.method, path_pattern(r, reqs)] | some r in reqs}) > object.get(l7, "max_rules_per_port", 20)
}

http_falls_back(reqs) if {
	some r in reqs
	count(r.path) > object.get(l7, "max_path", 512)
}

# grpc(r): a gRPC call, POST /package.Service/Method (HTTP/2).
grpc(r) if {
	r.method == "POST"
	regex.match(`^/[A-Za-z_][A-Za-z0-9_.]*\.[A-Za-z_][A-Za-z0-9_]*/[A-Za-z_][A-Za-z0-9_]*$`, r.path)
}

# path_pattern(r, reqs) is the anchored RE2 pattern for r's path (Envoy
# matches it against the whole :path). gRPC: the method literally, or the
# whole service once it has l7.grpc_fold methods among reqs. HTTP: each
# segment templated (segment_pattern), a literal segment folded to [^/]+
# when l7.fold_values distinct values fill its position among the
# method's paths that are otherwise alike; any query string allowed.
path_pattern(r, reqs) := p if {
	grpc(r)
	service := split(r.path, "/")[1]
	methods := {split(x.path, "/")[2] | some x in reqs; grpc(x); split(x.path, "/")[1] == service}
	count(methods) >= object.get(l7, "grpc_fold", 8)
	p := sprintf("^/%s/[^/]+$", [regex_escape(service)])
} else := p if {
	grpc(r)
	p := sprintf("^%s$", [regex_escape(r.path)])
} else := p if {
	segs := path_segments(r.path)
	p := sprintf(`^%s(\?.*)?$`, [concat("/", [fold_segment(r, segs, i, reqs) | some i, _ in segs])])
}

# path_segments(p) are the patterns of p's segments ("" before the
# leading /).
path_segments(p) := [segment_pattern(s) | some s in split(p, "/")]

# segment_pattern templates one segment: numbers, UUIDs, dates and long hex
# hashes become patterns; anything else is matched literally (escaped).
segment_pattern(s) := "[0-9]+" if {
	regex.match(`^[0-9]+$`, s)
} else := "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}" if {
	regex.match(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`, s)
} else := "[0-9]{4}-[0-9]{2}-[0-9]{2}" if {
	regex.match(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`, s)
} else := "[0-9a-fA-F]+" if {
	regex.match(`^[0-9a-fA-F]{16,}$`, s)
} else := regex_escape(s)

# fold_segment is segment i of r's path: [^/]+ for a literal segment whose
# position holds at least l7.fold_values values among the same method's
# paths alike elsewhere; its own pattern otherwise.
fold_segment(r, segs, i, reqs) := "[^/]+" if {
	i > 0
	segs[i] == regex_escape(split(r.path, "/")[i])
	values := {split(x.path, "/")[i] |
		some x in reqs
		x.method == r.method
		not grpc(x)
		xs := path_segments(x.path)
		count(xs) == count(segs)
		blank(xs, i) == blank(segs, i)
	}
	count(values) >= object.get(l7, "fold_values", 10)
} else := segs[i]

blank(segs, i) := array.concat(array.slice(segs, 0, i), array.slice(segs, i + 1, count(segs)))

# regex_escape quotes RE2's metacharacters.
regex_escape(s) := regex.replace(s, `[\\.+*?()|\[\]{}^$]`, `\$0`)

# dns_groups are the groups that select the cluster's DNS servers. Every
# pod must reach them, and every egress section ppc writes allows it, but
# no capture shows every client: unless config dns.ingress is "observed",
# their ingress also allows the whole cluster on the DNS ports. (A
# complete set: each policy's check is a lookup.)
dns_groups := {g |
	object.get(dns, "ingress", "cluster") in {"cluster", false}
	some id in dns_servers
	g := identity.member[id]
}

dns_ingress_rule := {
	"fromEntities": ["cluster"],
	"toPorts": [{"ports": sort([{"port": format_int(p, 10), "protocol": proto} |
		some p in object.get(dns, "ports", [53])
		some proto in ["UDP", "TCP"]
	])}],
}

# isolate is the rule of a direction in which nothing is allowed: an empty
# rule selects no peer, yet puts the workload in default deny.
isolate := [{}]

# ingress_rules(g) and egress_rules(g) are the rules of group g's
# sections: the DNS rule where it applies, then section_rules.
ingress_rules(g) := nonempty(array.concat([dns_ingress_rule | dns_groups[g]], object.get(section_rules, [[g, "ingress"]], [])))

egress_rules(g) := nonempty(array.concat(common_dns_rules, object.get(section_rules, [[g, "egress"]], []))) if {
	same_dns_rules
} else := nonempty(array.concat([dns_rule_of(g) | needs_dns_rule(g); not clusterwide_dns], object.get(section_rules, [[g, "egress"]], [])))

# same_dns_rules: every egress section gets the same DNS rules,
# common_dns_rules (computed once, not per policy): dns.always is on and
# dns.names is not "observed" (see needs_dns_rule, dns_rule_of).
same_dns_rules if {
	dns_always
	not names_observed
}

common_dns_rules := [dns_rule | not clusterwide_dns]

# dns_clients are the groups seen resolving names: they reached the DNS
# servers, or a peer known by its DNS name.
dns_clients := {g | some [g, e] in egress_side; dns_or_fqdn(e)}

dns_or_fqdn(e) if dns_edge(e)

dns_or_fqdn(e) if e.dst_node.kind == "fqdn"

# reaching are the groups with egress beyond the DNS servers (rules
# other than dns_rule).
reaching := {g | some [g, "egress"], _ in section_rules}

nonempty(rules) := rules if {
	count(rules) > 0
} else := isolate

# needs_dns_rule(g): group g's egress gets the DNS rule: always (config
# dns.always, the default), else when it was seen resolving names
# (dns_clients, a pass over the egress side that dns.always skips).
needs_dns_rule(_) if dns_always

needs_dns_rule(g) if {
	not dns_always
	dns_clients[g]
}

dns_always if object.get(dns, "always", true) == true

# clusterwide_dns: config dns.baseline "clusterwide" writes the DNS rule
# once, as a CiliumClusterwideNetworkPolicy selecting every endpoint that
# allows the DNS servers and isolates nothing by itself (enableDefaultDeny
# false), instead of in each policy. Not with dns.names "observed" (each
# workload then has its own names) nor across clusters.
clusterwide_dns if {
	object.get(dns, "baseline", "per-policy") == "clusterwide"
	object.get(dns, "names", "any") != "observed"
	not identity.multi_cluster
}

baseline_name := concat("", [lib.setting("policy_name_prefix", ""), "dns-baseline"])

policies[baseline_name] := {
	"cluster": "",
	"namespace": "",
	"name": baseline_name,
	"clusterwide": true,
	"default_deny": {"ingress": false, "egress": false},
	"selector": {},
	"subjects": [],
	"labels": policy_labels,
	"egress": [dns_rule],
	"ingress_edges": [],
	"egress_edges": sort([e.id | some [_, e] in egress_side; dns_edge(e)]),
} if clusterwide_dns

# clusterwide_nodes: config node_peers "clusterwide" allows what the
# cluster's nodes (host, remote-node) were seen reaching, once, as a
# CiliumClusterwideNetworkPolicy for every endpoint on the ports and ICMP
# types seen (kubelet probes, node-local agents), instead of in each
# policy. Not across clusters.
clusterwide_nodes if {
	lib.setting("node_peers", "per-policy") == "clusterwide"
	not identity.multi_cluster
}

node_entities := {"host", "remote-node"}

node_side_edge("ingress", e) if {
	clusterwide_nodes
	input.nodes[e.src].kind == "entity"
	entity(input.nodes[e.src]) in node_entities
}

node_edges := [e | clusterwide_nodes; some [_, e] in ingress_side; node_side_edge("ingress", e)]

node_baseline_name := concat("", [lib.setting("policy_name_prefix", ""), "node-baseline"])

policies[node_baseline_name] := {
	"cluster": "",
	"namespace": "",
	"name": node_baseline_name,
	"clusterwide": true,
	"default_deny": {"ingress": false, "egress": false},
	"selector": {},
	"subjects": [],
	"labels": policy_labels,
	"ingress": array.concat(
		[{"fromEntities": ents, "toPorts": to_ports(ts)} | count(ts) > 0],
		[{"fromEntities": ents, "icmps": [{"fields": c}]} | some c in lib.chunk(fs, 40)],
	),
	"ingress_edges": sort({e.id | some e in node_edges}),
	"egress_edges": [],
} if {
	clusterwide_nodes
	count(node_edges) > 0
	ents := sort({entity(input.nodes[e.src]) | some e in node_edges})
	ts := sort({[e.port, e.protocol] | some e in node_edges; lib.l4_protocols[e.protocol]})
	fs := sort({{"family": f, "type": e.port} | some e in node_edges; f := lib.icmp_family[e.protocol]})
}

# ---- sharding -----------------------------------------------------------------

# shardable: ppc may evaluate this pack per shard of namespaces (see
# rules/README.md, "Sharded evaluation"; decided says which policies a
# shard decides). It holds because a policy here is decided from its own
# group's edges and the nodes they name, and an edge's exclusion from the
# edge and its two ends; a clusterwide baseline gathers the edges of every
# namespace, so with one the pack is evaluated whole.
shardable if {
	not clusterwide_dns
	not clusterwide_nodes
}

# shard_context is what every shard must know of the nodes it does not
# see, and the tables of every node, computed once for each node rather
# than in every shard that sees it; shards read it as input.shard.context.
# ppc computes it in parts of the nodes, on every core, and joins them
# (rules/README.md): each table is an object keyed by node that depends on
# that node alone, and shard_globals, computed once over all nodes first,
# is what the parts must know of the others (input.chunk.globals).
shard_globals := {"multi_cluster": multi_cluster_flag}

shard_context := {
	"multi_cluster": multi_cluster_flag,
	"selector": identity.selector,
	"display_names": identity.display_names,
	"unselectable": identity.unselectable,
	"unpeerable": {id: true | some id in unpeerable},
	"peer_forms": peer_forms,
	"dns_servers": {id: true | some id in dns_servers},
}

multi_cluster_flag if {
	identity.multi_cluster
} else := false

# ---- policies ---------------------------------------------------------------

# policy_labels are the metadata labels of every policy: config
# policy_labels and the hooks' (computed once, not per policy).
policy_labels := object.union(lib.setting("policy_labels", {}), {x.key: x.value | some x in hooks.policy_labels})

# policies[key] is group g's policy, with both sections; for a namespace
# an organisation hook leaves out of one direction
# (hooks.exclude_ingress_namespace, exclude_egress_namespace) that
# section is left out (sided), and a namespace left out of both gets no
# policy. (The policy is written out as one object, the tables it reads
# bound before the loop: assembling it from the sections present cost a
# tenth of decide where a policy has one edge.)
policies[key] := pol if {
	names := identity.name
	members := identity.members
	labels := policy_labels
	edges := section_edges
	some g, grp in identity.groups
	decided[g]
	subject_ns_ok(grp.namespace)
	name := names[g]
	key := policy_key(grp, name)
	pol := sided({
		"cluster": grp.cluster,
		"namespace": grp.namespace,
		"name": name,
		"selector": grp.selector,
		"subjects": members[g],
		"labels": labels,
		"ingress_edges": object.get(edges, [[g, "ingress"]], []),
		"egress_edges": object.get(edges, [[g, "egress"]], []),
		"ingress": ingress_rules(g),
		"egress": egress_rules(g),
	})
}

# sided(pol) is pol without the sections a hook leaves out of its
# namespace (their edge lists empty); undefined when both are.
sided(pol) := pol if {
	not one_sided[pol.namespace]
} else := object.union(object.remove(pol, out), {sprintf("%s_edges", [side]): [] | some side in out}) if {
	out := {side | some side, nss in {"ingress": hooks.exclude_ingress_namespace, "egress": hooks.exclude_egress_namespace}; nss[pol.namespace]}
	count(out) < 2
}

# one_sided are the namespaces a hook leaves out of ingress or egress
# policy (a complete set: each policy's check is a lookup).
one_sided := hooks.exclude_ingress_namespace | hooks.exclude_egress_namespace

# policy_key is "namespace/name", or "cluster/namespace/name" when the
# flows span several clusters (each cluster gets its own policies).
policy_key(grp, name) := concat("/", [grp.cluster, grp.namespace, name]) if {
	identity.multi_cluster
} else := concat("/", [grp.namespace, name])

# ---- warnings -----------------------------------------------------------------

warnings contains {"msg": sprintf("workload %s gets no policy: %s", [id, why]), "object": id} if {
	some id, why in identity.unselectable
	subject_ns_ok(input.nodes[id].namespace)
	edge_ends[id]
}

# edge_ends are the nodes at an end of some edge: a complete set,
# evaluated once (and only when some workload is unselectable), so each
# workload's lookup is O(1). Scanning the edges for each unselectable
# workload was O(workloads × edges): a field-masked export without labels
# makes every workload unselectable.
edge_ends := {x | some e in input.edges; some x in [e.src, e.dst]}

warnings contains {"msg": sprintf("%s left denied: %s", [edge_text(id), why]), "object": id} if {
	some id, why in excluded_edge
	not hooks_excluded[id]
}

# hooks_excluded are the edges an organisation hook excludes (it says why
# itself): a complete set, so that each excluded edge's check is a lookup,
# not a scan of every hook entry.
hooks_excluded := {x.edge | some x in hooks.exclude_edge}

edge_text(id) := sprintf("%s -> %s %s/%d", [e.src, e.dst, e.protocol, e.port]) if {
	e := input.edges[id]
}

warnings contains {"msg": sprintf("no HTTP rule written on %s TCP/%d: some of its connections carried no recorded HTTP request (non-HTTP traffic, or not visible to the proxy), and an HTTP rule would send them all through Envoy's HTTP parser; the port keeps L3/L4 rules", [policy_key(grp, identity.name[g]), port]), "policy": policy_key(grp, identity.name[g])} if {
	some [g, port] in http_unsafe
	grp := identity.groups[g]
	subject_ns_ok(grp.namespace)
}

warnings contains {"msg": sprintf("%d world addresses reach %s on %s/%d: allowed from world on that port (config world_clients.public_service: %d)", [n, policy_key(grp, identity.name[g]), proto, port, lib.setting("world_clients", {}).public_service]), "policy": policy_key(grp, identity.name[g])} if {
	some [g, proto, port], n in public_port
	grp := identity.groups[g]
	subject_ns_ok(grp.namespace)
}

warnings contains {"msg": sprintf("%d addresses without a DNS name that %s reaches on %s/%d are allowed as %s, the smallest prefix covering them (config world_egress.fold: /%d, at least %d addresses): %s", [count(cs), policy_key(grp, identity.name[g]), proto, port, p, fold_len(p), object.get(fold, "min_addresses", 2), concat(", ", sort(cs))]), "policy": policy_key(grp, identity.name[g])} if {
	some [g, proto, port, p], cs in fold_sets
	grp := identity.groups[g]
	subject_ns_ok(grp.namespace)
}

warnings contains {"msg": "the cluster's DNS servers were seen reaching nothing: their egress is isolated, which cuts them off from the kube-apiserver and upstream resolvers; capture their traffic too, or leave their namespace out (--set exclude_namespaces=[...])", "policy": policy_key(grp, identity.name[g])} if {
	some g, grp in identity.groups
	decided[g]
	subject_ns_ok(grp.namespace)
	dns_groups[g]
	not grp.namespace in hooks.exclude_egress_namespace
	not reaching[g]
}
