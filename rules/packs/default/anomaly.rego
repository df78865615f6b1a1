# Package ppc.anomaly scores what in the traffic deserves a human look
# before anyone approves policies that would make it permanent. Each
# detector below adds to findings; an organisation adds detectors of its
# own as a set named anomalies in its package ppc.ext.<name>, with the
# same fields. Thresholds and weights are settings (config anomaly.*): a
# finding's score is its detector's weight plus what the detector adds for
# how far past its threshold the evidence is, at most 100.
#
# Input: nodes (learned, and denied_only ones that only denied attempts
# name), edges (learned connections), denied (connection attempts a policy
# of the cluster dropped and that were not learned), the aggregates ppc
# computes in one pass so that no detector scans every edge (by_source,
# by_namespace, by_port, connections), and with --baseline, baseline
# {"nodes": {id: namespace}, "edges": {id: true}} of an earlier snapshot.
# See rules/README.md.
#
# On a large graph ppc evaluates these detectors per chunk of sources
# (rules/README.md, "The anomaly stage"): a finding may read the
# aggregates, the nodes and the baseline, but the edges and attempts it
# reads must all have one source, so that the chunk holding that source
# finds it exactly as one evaluation over the whole graph would.
#
# Output (read by ppc):
#   findings  set of {detector, score (0-100), subject (node ID), msg,
#             edges (IDs of the edges and denied attempts behind it)}
package ppc.anomaly

import data.ppc.lib

settings := lib.setting("anomaly", {})

# conf(d, k, def) is setting anomaly.<d>.<k>.
conf(d, k, def) := object.get(settings, [d, k], def)

# score(d, x) is detector d's weight plus x, from 0 to 100.
score(d, x) := max([0, min([100, round(conf(d, "weight", 50) + x)])])

# name(id) names a node for people (its display name: namespace/name for
# a workload, with its ID's hash when several identities share the name).
name(id) := object.get(input.nodes, [id, "display"], id)

# dropped[src] are [edge, attempts, learned] for the connection attempts of
# src that a policy dropped: denied attempts, and the DROPPED connections
# of learned edges (with --include-denied, which learns them: they stay
# anomalies, and the message says the policies now allow them).
dropped := {src: s.dropped | some src, s in input.by_source; count(s.dropped) > 0}

learned_note(xs) := "" if {
	count([x | some x in xs; x[2]]) == 0
} else := sprintf("; %d of them learned with --include-denied: the policies written allow what the cluster denied", [count([x | some x in xs; x[2]])])

# ---- scan: one source trying many destinations or ports, many dropped -----

findings contains {
	"detector": "scan",
	"score": score("scan", min([20, 2 * (n - min_targets)]) + (10 * share)),
	"subject": src,
	"msg": sprintf("%s tried %d destinations and ports, %d of them dropped by policy: scan-like%s", [name(src), n, nd, learned_note(ds)]),
	"edges": [x[0] | some x in ds],
} if {
	min_targets := conf("scan", "min_targets", 8)
	some src, s in input.by_source
	n := s.targets
	n >= min_targets
	ds := dropped[src]
	nd := count(ds)
	share := nd / n
	share >= conf("scan", "min_dropped_share", 0.5)
}

# ---- repeated_drops: one source's attempts dropped again and again ----------

findings contains {
	"detector": "repeated_drops",
	"score": score("repeated_drops", min([20, (n - min_attempts) / 5])),
	"subject": src,
	"msg": sprintf("%d connection attempts of %s were dropped by policy, to %d destinations and ports%s", [n, name(src), count(ds), learned_note(ds)]),
	"edges": [x[0] | some x in ds],
} if {
	min_attempts := conf("repeated_drops", "min_attempts", 5)
	some src, ds in dropped
	n := sum([x[1] | some x in ds])
	n >= min_attempts
}

# ---- rare_edge: few flows where the source's other connections carry many --

findings contains {
	"detector": "rare_edge",
	"score": score("rare_edge", min([20, median / 10])),
	"subject": src,
	"msg": sprintf("%s reached %s on %s/%d in %d connection(s), while its %d connections carry a median of %d", [name(src), name(e.dst), e.protocol, e.port, x[0], count(xs), median]),
	"edges": [e.id],
} if {
	# The source's learned edges as [flows, edge], fewest flows first.
	some src, s in input.by_source
	xs := s.flows
	count(xs) > conf("rare_edge", "min_peers", 3)
	median := xs[floor(count(xs) / 2)][0]
	median >= conf("rare_edge", "min_peer_flows", 20)
	some x in xs
	x[0] <= conf("rare_edge", "max_flows", 1)
	e := input.edges[x[1]]
}

# ---- world_no_dns: addresses outside the cluster reached without a name ----

findings contains {
	"detector": "world_no_dns",
	"score": score("world_no_dns", min([30, count(ids)])),
	"subject": src,
	"msg": sprintf("%s reached %d address(es) outside the cluster with no DNS name in the flows, so only a CIDR rule can allow them, not toFQDNs: %s", [name(src), count(addrs), concat(", ", shown)]),
	"edges": ids,
} if {
	some src, s in input.by_source
	input.nodes[src].kind == "workload"
	ids := [x[0] | some x in s.cidr_edges; public[x[1]]]
	count(ids) > 0
	addrs := sort({input.nodes[x[1]].cidr | some x in s.cidr_edges; public[x[1]]})
	shown := array.concat(array.slice(addrs, 0, 5), ["…" | count(addrs) > 5])
}

# public are the CIDR peers on the internet's addresses (a complete set:
# each peer is judged once).
public := {id | some id, n in input.nodes; n.kind == "cidr"; not private(n.cidr)}

# private(c): the prefix lies in a range that is not the internet's
# (config anomaly.world_no_dns.ignore: private, shared, loopback and
# link-local ranges by default), such as nodes and on-premises services.
private(c) if {
	some r in conf("world_no_dns", "ignore", [])
	net.cidr_contains(r, c)
}

input_edge(id) := input.edges[id] if input.edges[id]

input_edge(id) := input.denied[id] if not input.edges[id]

# ---- quiet_namespace: traffic of a namespace that otherwise has none -------

findings contains {
	"detector": "quiet_namespace",
	"score": score("quiet_namespace", 0),
	"subject": ns_subject(ns, ids[0]),
	"msg": sprintf("namespace %s has no other traffic in the capture: %s", [ns, edge_text(ids[0])]),
	"edges": ids,
} if {
	# The edges and attempts with a workload of the namespace at an end.
	count(input.by_namespace) >= conf("quiet_namespace", "min_namespaces", 3)
	some ns, a in input.by_namespace
	ids := a.edges
	count(ids) <= conf("quiet_namespace", "max_edges", 1)
	a.connections <= conf("quiet_namespace", "max_connections", 5)
}

findings contains {
	"detector": "quiet_namespace",
	"score": score("quiet_namespace", 10),
	"subject": ns_subject(ns, ids[0]),
	"msg": sprintf("namespace %s had no traffic in the baseline and has %d connection(s) now, e.g. %s", [ns, count(ids), edge_text(ids[0])]),
	"edges": ids,
} if {
	input.baseline
	some ns, a in input.by_namespace
	ids := a.edges
	not baseline_namespaces[ns]
}

baseline_namespaces := {ns | some ns in input.baseline.nodes; ns != ""}

# ns_subject is the end of edge id in namespace ns.
ns_subject(ns, id) := e.src if {
	e := input_edge(id)
	object.get(input.nodes[e.src], "namespace", "") == ns
} else := input_edge(id).dst

edge_text(id) := sprintf("%s -> %s %s/%d%s", [name(e.src), name(e.dst), e.protocol, e.port, dropped_text(id)]) if e := input_edge(id)

dropped_text(id) := " (dropped by policy)" if {
	not input.edges[id]
} else := ""

# ---- single_port: a port the whole capture used once ----------------------

findings contains {
	"detector": "single_port",
	"score": score("single_port", 0),
	"subject": e.dst,
	"msg": sprintf("%s/%d was used by one connection in the whole capture: %s", [proto, port, edge_text(e.id)]),
	"edges": [e.id],
} if {
	input.connections >= conf("single_port", "min_connections", 200)
	some p in input.by_port
	p.edges == 1
	p.connections == 1
	e := input.edges[p.edge]
	proto := p.protocol
	port := p.port
}

# ---- new_edge: connections the baseline snapshot does not have ------------

# A learned connection scores the weight; a new attempt the cluster
# dropped scores 10 less (the drop detectors judge those already).
findings contains {
	"detector": "new_edge",
	"score": score("new_edge", 0),
	"subject": e.src,
	"msg": sprintf("new since the baseline: %s", [edge_text(e.id)]),
	"edges": [e.id],
} if {
	input.baseline
	some e in input.edges
	not input.baseline.edges[e.id]
}

findings contains {
	"detector": "new_edge",
	"score": score("new_edge", -10),
	"subject": e.src,
	"msg": sprintf("new since the baseline: %s", [edge_text(e.id)]),
	"edges": [e.id],
} if {
	input.baseline
	some e in input.denied
	not input.edges[e.id]
	not input.baseline.edges[e.id]
}

# ---- organisation detectors ---------------------------------------------------

findings contains f if {
	some f in data.ppc.ext[_].anomalies
}
