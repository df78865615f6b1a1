# Package ppc.fixture_test is the small IR the default pack's tests share:
# two workloads in shop calling each other, DNS, a named and an unnamed
# internet peer, ICMP, a workload without labels and an ephemeral port.
package ppc.fixture_test

wl(ns, app) := {"id": sprintf("wl:%s/%s", [ns, app]), "kind": "workload", "namespace": ns, "name": app, "pods": [app], "labels": [sprintf("k8s:app=%s", [app]), sprintf("k8s:io.kubernetes.pod.namespace=%s", [ns]), "k8s:pod-template-hash=abc123"]}

edge(src, dst, proto, port, dir) := {"id": sprintf("%s -> %s %s/%d", [src, dst, proto, port]), "src": src, "dst": dst, "protocol": proto, "port": port, "flows": 1, "verdicts": {"FORWARDED": 1}, "direction": dir}

dns_node := {"id": "wl:kube-system/coredns", "kind": "workload", "namespace": "kube-system", "name": "coredns", "pods": ["coredns"], "labels": ["k8s:k8s-app=kube-dns", "k8s:io.kubernetes.pod.namespace=kube-system"]}

nodes := {n.id: n | some n in [
	wl("shop", "web"),
	wl("shop", "api"),
	dns_node,
	{"id": "wl:shop/masked", "kind": "workload", "namespace": "shop", "name": "masked", "pods": ["masked"], "labels": []},
	{"id": "fqdn:api.github.com", "kind": "fqdn", "fqdn": "api.github.com"},
	{"id": "cidr:203.0.113.7/32", "kind": "cidr", "cidr": "203.0.113.7/32"},
	{"id": "ent:host", "kind": "entity", "entities": ["host"]},
]}

edges := {e.id: e | some e in [
	edge("wl:shop/web", "wl:shop/api", "TCP", 8080, {"is_reply": 1}),
	edge("wl:shop/web", "wl:kube-system/coredns", "UDP", 53, {"is_reply": 1}),
	edge("wl:shop/web", "fqdn:api.github.com", "TCP", 443, {"tcp_flags": 1}),
	edge("wl:shop/api", "cidr:203.0.113.7/32", "TCP", 443, {"tcp_flags": 1}),
	edge("ent:host", "wl:shop/api", "ICMPv4", 8, {"icmp_type": 1}),
	edge("wl:shop/masked", "wl:shop/api", "TCP", 8080, {"is_reply": 1}),
	edge("wl:shop/api", "wl:shop/web", "TCP", 40000, {}),
]}

ir := complete({"ir_version": 2, "nodes": nodes, "edges": edges})

# complete(x) gives each edge of x its src_node, dst_node and
# same_namespace, as ppc's input does: a test that adds nodes or edges
# passes its input through it.
complete(x) := object.union(x, {"edges": {id: object.union(e, {"src_node": x.nodes[e.src], "dst_node": x.nodes[e.dst], "same_namespace": same_namespace(x.nodes[e.src], x.nodes[e.dst])}) | some id, e in x.edges}})

same_namespace(a, b) if a.namespace == b.namespace

default same_namespace(_, _) := false

web_api := "wl:shop/web -> wl:shop/api TCP/8080"

masked_api := "wl:shop/masked -> wl:shop/api TCP/8080"

ephemeral := "wl:shop/api -> wl:shop/web TCP/40000"
