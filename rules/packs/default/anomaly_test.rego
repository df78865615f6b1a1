# Tests of the default anomaly detectors: for each, a capture that
# triggers it and a near miss that must not.
package ppc.anomaly_test

import data.ppc.anomaly

wl(ns, app) := {"id": sprintf("wl:%s/%s", [ns, app]), "kind": "workload", "namespace": ns, "name": app, "display": sprintf("%s/%s", [ns, app])}

edge(src, dst, proto, port, flows) := {"id": sprintf("%s -> %s %s/%d", [src, dst, proto, port]), "src": src, "dst": dst, "protocol": proto, "port": port, "flows": flows, "verdicts": {"FORWARDED": flows}}

denied(src, dst, proto, port, n) := object.union(edge(src, dst, proto, port, n), {"verdicts": {"DROPPED": n}})

by_id(xs) := {x.id: x | some x in xs}

# A shop: web calls api and db a lot; nodes of three namespaces.
nodes := by_id([
	wl("shop", "web"), wl("shop", "api"), wl("shop", "db"), wl("ops", "probe"), wl("tools", "job"),
	{"id": "cidr:203.0.113.7/32", "kind": "cidr", "cidr": "203.0.113.7/32", "display": "cidr:203.0.113.7/32"},
	{"id": "cidr:10.0.0.9/32", "kind": "cidr", "cidr": "10.0.0.9/32", "display": "cidr:10.0.0.9/32"},
])

normal := [
	edge("wl:shop/web", "wl:shop/api", "TCP", 8080, 100),
	edge("wl:shop/api", "wl:shop/db", "TCP", 5432, 80),
	edge("wl:ops/probe", "wl:shop/api", "TCP", 8080, 40),
	edge("wl:tools/job", "wl:shop/db", "TCP", 5432, 30),
]

# capture is the stage's input as ppc builds it, the aggregates included
# (computed here the way rules/anomaly.go does).
capture(edges, dropped) := object.union({"nodes": nodes, "edges": by_id(edges), "denied": by_id(dropped)}, aggregates(edges, dropped))

aggregates(edges, dropped) := {
	"by_source": {src: source(src, edges, dropped) | some e in array.concat(edges, dropped); src := e.src},
	"by_namespace": {ns: {"edges": ids, "connections": c} |
		some n in nodes
		ns := object.get(n, "namespace", "")
		ns != ""
		all := array.concat(edges, dropped)
		ids := sort({e.id | some e in all; ns in ends_ns(e)})
		count(ids) > 0
		c := sum([e.flows | some e in all; ns in ends_ns(e)])
	},
	"by_port": {sprintf("%s/%d", [e.protocol, e.port]): {"protocol": e.protocol, "port": e.port, "edges": count(same), "connections": sum([x.flows | some x in same]), "edge": min({x.id | some x in same})} |
		some e in edges
		same := [x | some x in edges; x.protocol == e.protocol; x.port == e.port]
	},
	"connections": sum([e.flows | some e in edges]),
}

ends_ns(e) := {object.get(nodes[e.src], "namespace", ""), object.get(nodes[e.dst], "namespace", "")}

source(src, edges, dropped) := {
	"targets": count({[e.dst, e.protocol, e.port] | some e in array.concat(edges, dropped); e.src == src}),
	"dropped": array.concat(
		[[e.id, e.flows, false] | some e in dropped; e.src == src],
		[[e.id, e.verdicts.DROPPED, true] | some e in edges; e.src == src; object.get(e.verdicts, "DROPPED", 0) > 0],
	),
	"flows": sort([[e.flows, e.id] | some e in edges; e.src == src]),
	"cidr_edges": [[e.id, e.dst] | some e in array.concat(edges, dropped); e.src == src; nodes[e.dst].kind == "cidr"],
}

found(d, c) := {f | some f in anomaly.findings with input as c; f.detector == d}

found_with(d, c, cfg) := {f | some f in anomaly.findings with input as c with data.ppc.config.anomaly as cfg; f.detector == d}

# probe tries eight ports of the shop, all dropped.
probes := [denied("wl:ops/probe", "wl:shop/db", "TCP", p, 1) | some p in [22, 23, 80, 443, 3306, 6379, 9200, 11211]]

test_scan_trigger if {
	fs := found("scan", capture(normal, probes))
	count(fs) == 1
	some f in fs
	f.subject == "wl:ops/probe"
	f.score >= 70
	count(f.edges) == 8
	contains(f.msg, "tried 9 destinations and ports, 8 of them dropped")
}

test_scan_near_miss_mostly_allowed if {
	# The same nine targets, but only four dropped: a busy client, not a scan.
	allowed := [edge("wl:ops/probe", "wl:shop/db", "TCP", p, 5) | some p in [22, 23, 80, 443]]
	count(found("scan", capture(array.concat(normal, allowed), array.slice(probes, 4, 8)))) == 0
}

test_scan_near_miss_few_targets if {
	count(found("scan", capture(normal, array.slice(probes, 0, 6)))) == 0
}

test_repeated_drops_trigger if {
	fs := found("repeated_drops", capture(normal, [denied("wl:tools/job", "wl:shop/api", "TCP", 8080, 6)]))
	count(fs) == 1
	some f in fs
	f.subject == "wl:tools/job"
	contains(f.msg, "6 connection attempts of tools/job were dropped by policy")
	not contains(f.msg, "include-denied")
}

test_repeated_drops_near_miss if {
	count(found("repeated_drops", capture(normal, [denied("wl:tools/job", "wl:shop/api", "TCP", 8080, 4)]))) == 0
}

# Learned with --include-denied, a dropped connection is an edge with
# DROPPED verdicts: still an anomaly, and the message says the policies
# now allow it.
test_repeated_drops_learned_stays_an_anomaly if {
	learned := object.union(edge("wl:tools/job", "wl:shop/api", "TCP", 8080, 6), {"verdicts": {"DROPPED": 6}})
	some f in found("repeated_drops", capture(array.concat(normal, [learned]), []))
	contains(f.msg, "learned with --include-denied")
}

test_rare_edge_trigger if {
	busy := [edge("wl:shop/web", "wl:shop/db", "TCP", p, 50) | some p in [5432, 5433, 5434]]
	fs := found("rare_edge", capture(array.concat(array.concat(normal, busy), [edge("wl:shop/web", "wl:tools/job", "TCP", 9000, 1)]), []))
	count(fs) == 1
	some f in fs
	f.edges == ["wl:shop/web -> wl:tools/job TCP/9000"]
}

test_rare_edge_near_miss if {
	# Two flows: more than max_flows.
	busy := [edge("wl:shop/web", "wl:shop/db", "TCP", p, 50) | some p in [5432, 5433, 5434]]
	count(found("rare_edge", capture(array.concat(array.concat(normal, busy), [edge("wl:shop/web", "wl:tools/job", "TCP", 9000, 2)]), []))) == 0
}

test_world_no_dns_trigger if {
	fs := found_with("world_no_dns", capture(array.concat(normal, [edge("wl:shop/api", "cidr:203.0.113.7/32", "TCP", 443, 3)]), []), {"world_no_dns": {"ignore": ["10.0.0.0/8"]}})
	count(fs) == 1
	some f in fs
	contains(f.msg, "203.0.113.7/32")
}

test_world_no_dns_near_miss_private if {
	count(found_with("world_no_dns", capture(array.concat(normal, [edge("wl:shop/api", "cidr:10.0.0.9/32", "TCP", 443, 3)]), []), {"world_no_dns": {"ignore": ["10.0.0.0/8"]}})) == 0
}

test_quiet_namespace_trigger if {
	# tools has one connection, two flows; shop and ops are busy.
	es := [e | some e in normal; e.src != "wl:tools/job"]
	fs := found("quiet_namespace", capture(array.concat(es, [edge("wl:tools/job", "wl:shop/db", "TCP", 5432, 2)]), []))
	count(fs) == 1
	some f in fs
	f.subject == "wl:tools/job"
}

test_quiet_namespace_near_miss_steady if {
	# The same single edge carrying 30 connections is steady traffic.
	count(found("quiet_namespace", capture(normal, []))) == 0
}

test_quiet_namespace_baseline if {
	c := object.union(capture(normal, []), {"baseline": {"nodes": {"wl:shop/web": "shop", "wl:ops/probe": "ops"}, "edges": {}}})
	{f.subject | some f in found("quiet_namespace", c)} == {"wl:tools/job"}
}

test_single_port_trigger if {
	es := array.concat(normal, [edge("wl:shop/web", "wl:shop/db", "TCP", 4444, 1)])
	fs := found_with("single_port", capture(es, []), {"single_port": {"min_connections": 100}})
	{f.edges[0] | some f in fs} == {"wl:shop/web -> wl:shop/db TCP/4444"}
}

test_single_port_near_miss_small_capture if {
	es := array.concat(normal, [edge("wl:shop/web", "wl:shop/db", "TCP", 4444, 1)])
	count(found_with("single_port", capture(es, []), {"single_port": {"min_connections": 1000}})) == 0
}

test_new_edge_trigger_and_near_miss if {
	base := {"nodes": {}, "edges": {e.id: true | some e in array.slice(normal, 0, 3)}}
	fs := found("new_edge", object.union(capture(normal, []), {"baseline": base}))
	{f.edges[0] | some f in fs} == {normal[3].id}
	count(found("new_edge", capture(normal, []))) == 0
}

test_weights_are_settings if {
	some f in found_with("repeated_drops", capture(normal, [denied("wl:tools/job", "wl:shop/api", "TCP", 8080, 6)]), {"repeated_drops": {"weight": 5}})
	f.score < 10
}

test_organisation_detector if {
	mine := {"detector": "mine", "score": 99, "subject": "wl:shop/web", "msg": "m", "edges": []}
	mine in anomaly.findings with input as capture(normal, []) with data.ppc.ext.org.anomalies as {mine}
}
