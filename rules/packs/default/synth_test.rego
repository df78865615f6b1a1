package ppc.synth_test

import data.ppc.fixture_test as fx
import data.ppc.synth

pol(key) := p if {
	p := synth.policies[key] with input as fx.ir
}

test_policy_per_group if {
	ps := synth.policies with input as fx.ir
	{k | some k, _ in ps} == {"shop/web", "shop/api", "kube-system/kube-dns"}
}

test_ingress_from_observed_peer_only if {
	p := pol("shop/api")
	{"fromEndpoints": [{"matchLabels": {"app": "web"}}], "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}]}]} in p.ingress
	p.ingress_edges == sort([fx.web_api, "ent:host -> wl:shop/api ICMPv4/8"])
}

test_icmp_rule_of_its_own if {
	p := pol("shop/api")
	{"fromEntities": ["host"], "icmps": [{"fields": [{"family": "IPv4", "type": 8}]}]} in p.ingress
}

test_egress_dns_fqdn_and_peer if {
	p := pol("shop/web")
	synth.dns_rule in p.egress
	{"toFQDNs": [{"matchName": "api.github.com"}], "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}]} in p.egress
	{"toEndpoints": [{"matchLabels": {"app": "api"}}], "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}]}]} in p.egress
}

test_world_address_as_cidr if {
	p := pol("shop/api")
	{"toCIDR": ["203.0.113.7/32"], "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}]} in p.egress
}

test_world_as_entity_when_configured if {
	p := synth.policies["shop/api"] with input as fx.ir
		with data.ppc.config.world_peers as "entity"
	{"toEntities": ["world"], "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}]} in p.egress
}

# Fail closed: an unselectable peer's connection stays denied and is
# reported; the rest of the section is still written.
test_unselectable_peer_excluded if {
	ex := synth.excluded_edge with input as fx.ir
	contains(ex[fx.masked_api], "cannot be selected")
	p := pol("shop/api")
	not fx.masked_api in p.ingress_edges
	count(p.ingress) > 0
}

test_ephemeral_port_without_evidence_excluded if {
	ex := synth.excluded_edge with input as fx.ir
	contains(ex[fx.ephemeral], "ephemeral range")
}

test_hook_excludes_edge if {
	ex := synth.excluded_edge with input as fx.ir
		with data.ppc.ext.t.exclude_edge as {{"edge": fx.web_api, "reason": "not wanted"}}
	ex[fx.web_api] == "not wanted"
}

test_hook_exclusion_not_warned_again if {
	ws := synth.warnings with input as fx.ir
		with data.ppc.ext.t.exclude_edge as {{"edge": fx.web_api, "reason": "not wanted"}}
	denied := {w.object | some w in ws; contains(w.msg, "left denied")}
	fx.ephemeral in denied
	not fx.web_api in denied
}

test_dns_servers_open_to_cluster if {
	p := pol("kube-system/kube-dns")
	synth.dns_ingress_rule in p.ingress
}

test_nothing_observed_isolates if {
	p := pol("kube-system/kube-dns")

	# coredns reached nothing: DNS egress only (dns.always), never a missing section.
	p.egress == [synth.dns_rule]
}

test_excluded_namespace_gets_no_policy if {
	ps := synth.policies with input as fx.ir
		with data.ppc.config.exclude_namespaces as ["shop"]
	{k | some k, _ in ps} == {"kube-system/kube-dns"}
}

test_exclude_ingress_hook_keeps_egress if {
	p := synth.policies["shop/api"] with input as fx.ir
		with data.ppc.ext.t.exclude_ingress_namespace as {"shop"}
	not p.ingress
	count(p.egress) > 0
}

test_exclude_egress_hook_keeps_ingress if {
	p := synth.policies["shop/api"] with input as fx.ir
		with data.ppc.ext.t.exclude_egress_namespace as {"shop"}
	not p.egress
	count(p.ingress) > 0
	p.egress_edges == []
	p.ingress_edges == synth.policies["shop/api"].ingress_edges with input as fx.ir
}

test_exclude_both_directions_gets_no_policy if {
	ps := synth.policies with input as fx.ir
		with data.ppc.ext.t.exclude_ingress_namespace as {"shop"}
		with data.ppc.ext.t.exclude_egress_namespace as {"shop"}
	not ps["shop/api"]
	ps["kube-system/kube-dns"]
}

# A hook about another namespace leaves a policy as it is.
test_other_namespace_hook_changes_nothing if {
	p := synth.policies["shop/api"] with input as fx.ir
	p == synth.policies["shop/api"] with input as fx.ir
		with data.ppc.ext.t.exclude_ingress_namespace as {"other"}
}

test_ports_split_into_chunks if {
	synth.to_ports([[1, "TCP"], [2, "TCP"], [3, "UDP"]]) == [{"ports": [{"port": "1", "protocol": "TCP"}, {"port": "2", "protocol": "TCP"}]}, {"ports": [{"port": "3", "protocol": "UDP"}]}] with synth.max_ports as 2
}

test_public_service_opens_port_to_world if {
	srcs := [sprintf("cidr:198.51.100.%d/32", [i]) | some i in numbers.range(1, 5)]
	nodes := object.union(fx.nodes, {id: {"id": id, "kind": "cidr", "cidr": trim_prefix(id, "cidr:")} | some id in srcs})
	edges := object.union(fx.edges, {e.id: e | some s in srcs; e := fx.edge(s, "wl:shop/web", "TCP", 443, {"tcp_flags": 1})})
	p := synth.policies["shop/web"] with input as fx.complete({"nodes": nodes, "edges": edges})
	{"fromEntities": ["world"], "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}]} in p.ingress
}

test_unnamed_addresses_fold_into_a_prefix if {
	dsts := ["cidr:192.0.2.10/32", "cidr:192.0.2.20/32"]
	nodes := object.union(fx.nodes, {id: {"id": id, "kind": "cidr", "cidr": trim_prefix(id, "cidr:")} | some id in dsts})
	edges := object.union(fx.edges, {e.id: e | some d in dsts; e := fx.edge("wl:shop/web", d, "TCP", 5432, {"tcp_flags": 1})})
	p := synth.policies["shop/web"] with input as fx.complete({"nodes": nodes, "edges": edges})
	{"toCIDR": ["192.0.2.0/27"], "toPorts": [{"ports": [{"port": "5432", "protocol": "TCP"}]}]} in p.egress
}

test_warnings_name_excluded_edges if {
	ws := synth.warnings with input as fx.ir
	some w in ws
	w.object == fx.masked_api
}

# dns.baseline=clusterwide: one clusterwide policy carries the DNS rule for
# every endpoint, without isolating; no policy repeats it.
test_dns_baseline_clusterwide if {
	ps := synth.policies with input as fx.ir with data.ppc.config.dns.baseline as "clusterwide"
	b := ps["dns-baseline"]
	b.clusterwide
	b.namespace == ""
	b.selector == {}
	b.default_deny == {"ingress": false, "egress": false}
	b.egress == [synth.dns_rule]
	b.egress_edges == ["wl:shop/web -> wl:kube-system/coredns UDP/53"]
	not synth.dns_rule in ps["shop/web"].egress
}

# Near misses: per-policy by default, and with names observed.
test_dns_baseline_per_policy if {
	ps := synth.policies with input as fx.ir
	not ps["dns-baseline"]
	synth.dns_rule in ps["shop/web"].egress
	qs := synth.policies with input as fx.ir with data.ppc.config.dns as {"baseline": "clusterwide", "names": "observed", "selector": {"k8s:io.kubernetes.pod.namespace": "kube-system", "k8s:k8s-app": "kube-dns"}, "ports": [53]}
	not qs["dns-baseline"]
}

# node_peers=clusterwide: what the nodes reach (host's ICMP to api here)
# is allowed once for every endpoint; api's policy no longer lists it.
test_node_baseline_clusterwide if {
	ps := synth.policies with input as fx.ir with data.ppc.config.node_peers as "clusterwide"
	b := ps["node-baseline"]
	b.clusterwide
	b.ingress == [{"fromEntities": ["host"], "icmps": [{"fields": [{"family": "IPv4", "type": 8}]}]}]
	b.ingress_edges == ["ent:host -> wl:shop/api ICMPv4/8"]
	every r in ps["shop/api"].ingress {
		not r.fromEntities
	}
	plain := synth.policies with input as fx.ir
	not plain["node-baseline"]
}

# A peer in another namespace is selected with its namespace; one in the
# policy's own namespace is not (test_ingress_from_observed_peer_only).
test_peer_in_another_namespace_names_it if {
	ledger_edge := fx.edge("wl:shop/api", "wl:billing/ledger", "TCP", 5432, {"tcp_flags": 1})
	graph := fx.complete(object.union(fx.ir, {
		"nodes": {"wl:billing/ledger": fx.wl("billing", "ledger")},
		"edges": {ledger_edge.id: ledger_edge},
	}))
	ports := [{"ports": [{"port": "5432", "protocol": "TCP"}]}]
	api := synth.policies["shop/api"] with input as graph
	{"toEndpoints": [{"matchLabels": {"app": "ledger", "k8s:io.kubernetes.pod.namespace": "billing"}}], "toPorts": ports} in api.egress
	ledger := synth.policies["billing/ledger"] with input as graph
	ledger.ingress == [{"fromEndpoints": [{"matchLabels": {"app": "api", "k8s:io.kubernetes.pod.namespace": "shop"}}], "toPorts": ports}]
}

# Sharded evaluation: a shard decides the policies of its namespaces only
# (the others' groups are decided elsewhere), and the warnings about them.
test_shard_decides_its_namespaces_only if {
	shard := object.union(fx.ir, {"shard": {"namespaces": {"kube-system": true}}})
	ps := synth.policies with input as shard
	{k | some k, _ in ps} == {"kube-system/kube-dns"}
	ws := synth.warnings with input as shard
	every w in ws {
		object.get(w, "policy", "kube-system/kube-dns") == "kube-system/kube-dns"
	}
	synth.decided with input as fx.ir
	count(synth.decided) == 3 with input as fx.ir
}

test_shardable_unless_a_clusterwide_baseline if {
	synth.shardable with input as fx.ir
	not synth.shardable with input as fx.ir with data.ppc.config.node_peers as "clusterwide"
	not synth.shardable with input as fx.ir with data.ppc.config.dns.baseline as "clusterwide"
}

# A shard sees only some workloads: whether the flows span several
# clusters, and the tables of every node, come from shard_context,
# computed once over all of them.
test_shard_context_carries_multi_cluster if {
	c := synth.shard_context with input as fx.ir
	c.multi_cluster == false
	c.selector["wl:shop/api"] == {"app": "api"}
	c.peer_forms["cidr:203.0.113.7/32"] == {true: ["cidr", "203.0.113.7/32"], false: ["cidr", "203.0.113.7/32"]}
	c.peer_forms["wl:shop/api"][false] == ["endpoints", {"matchLabels": {"app": "api", "k8s:io.kubernetes.pod.namespace": "shop"}}]
	c.dns_servers == {"wl:kube-system/coredns": true}
	shard := object.union(fx.ir, {"shard": {"namespaces": {"shop": true}, "context": object.union(c, {"multi_cluster": true})}})
	data.ppc.identity.multi_cluster with input as shard
	not data.ppc.identity.multi_cluster with input as object.union(fx.ir, {"shard": {"namespaces": {"shop": true}, "context": c}})

	# The tables of every node come from the context, not the shard's nodes.
	synth.dns_servers == {"wl:kube-system/coredns"} with input as object.union(fx.ir, {"shard": {"namespaces": {"shop": true}, "context": c}})
	data.ppc.identity.selector == {"x": {"app": "x"}} with input as object.union(fx.ir, {"shard": {"namespaces": {"shop": true}, "context": object.union(object.remove(c, ["selector"]), {"selector": {"x": {"app": "x"}}})}})
}

test_unselectable_workload_warned_when_on_an_edge if {
	idle := {"id": "wl:shop/idle", "kind": "workload", "namespace": "shop", "name": "idle", "pods": ["idle"], "labels": []}
	g := object.union(fx.ir, {"nodes": object.union(fx.nodes, {idle.id: idle})})
	ws := synth.warnings with input as g
	objects := {w.object | some w in ws; contains(w.msg, "gets no policy")}
	objects == {"wl:shop/masked"}
}

# any_icmp reads ppc's count of the edges by protocol, and scans the edges
# of an input without one.
test_any_icmp_from_protocol_counts if {
	synth.any_icmp with input as fx.ir
	synth.any_icmp with input as object.union(fx.ir, {"protocols": {"TCP": 5, "ICMPv4": 1}})
	not synth.any_icmp with input as object.union(fx.ir, {"protocols": {"TCP": 5, "UDP": 1}})
	no_icmp := object.filter(fx.edges, [id | some id, e in fx.edges; e.protocol != "ICMPv4"])
	not synth.any_icmp with input as object.union(object.remove(fx.ir, ["edges"]), {"edges": no_icmp})
}

# any_ephemeral reads ppc's count of the edges by port: the pass over the
# edges for ephemeral ports runs only when some port is in the range, and
# over every edge of an input without the counts.
test_any_ephemeral_from_port_counts if {
	synth.any_ephemeral with input as fx.ir
	synth.any_ephemeral with input as object.union(fx.ir, {"ports": {8080: 1, 40000: 1}})
	not synth.any_ephemeral with input as object.union(fx.ir, {"ports": {8080: 1, 53: 1}})
	synth.excluded_edge[fx.ephemeral] with input as object.union(fx.ir, {"ports": {40000: 1}})
	not synth.excluded_edge[fx.ephemeral] with input as object.union(fx.ir, {"ports": {8080: 1}})
}

# covering: the smallest prefix holding every address of a fold set (IPv4
# and IPv6); fold_bucket: the fold-length prefix an address folds within.
test_covering_prefix if {
	cidrs := ["198.51.100.3/32", "198.51.100.200/32", "198.51.100.64/32", "198.51.100.127/32", "2001:db8::1/128", "2001:db8::ff/128"]
	graph := {"nodes": {sprintf("cidr:%s", [c]): {"id": sprintf("cidr:%s", [c]), "kind": "cidr", "cidr": c} | some c in cidrs}, "edges": {}}
	synth.covering({"198.51.100.3/32", "198.51.100.200/32"}) == "198.51.100.0/24" with input as graph
	synth.covering({"198.51.100.64/32", "198.51.100.127/32"}) == "198.51.100.64/26" with input as graph
	synth.covering({"2001:db8::1/128", "2001:db8::ff/128"}) == "2001:db8::/120" with input as graph
	synth.fold_bucket["198.51.100.3/32"] == "198.51.100.0/24" with input as graph
	synth.fold_bucket["2001:db8::1/128"] == "2001:db8::/64" with input as graph
}
