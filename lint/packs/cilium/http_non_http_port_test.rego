package ppc.lint.cilium.http_non_http_port_test

import data.ppc.lint.cilium.http_non_http_port

policy := {
	"kind": "CiliumNetworkPolicy",
	"metadata": {"name": "api", "namespace": "shop"},
	"spec": {"endpointSelector": {"matchLabels": {"app": "api"}}, "ingress": [{
		"fromEndpoints": [{"matchLabels": {"app": "web"}}],
		"toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}], "rules": {"http": [{"method": "GET", "path": "/items"}]}}],
	}]},
}

with_traffic(http, other) := object.union(policy, {"ppc": {"method": "flows", "workloads": [{
	"name": "shop/api", "namespace": "shop", "labels": {"app": "api"}, "policies": ["shop/api"],
	"specs": [{"policy": "shop/api", "path": "spec", "spec": policy.spec}],
	"serves": [{"protocol": "TCP", "port": 8080, "connections": http + other, "http": http, "other": other}],
}]}})

test_non_http_connections_denied if {
	ds := http_non_http_port.deny with input as with_traffic(5, 2)
	count(ds) == 1
	some d in ds
	d.path == ["spec", "ingress", 0, "toPorts", 0, "ports", 0]
	contains(d.msg, "TCP/8080 of shop/api, where 2 of 7 observed connections carried no recorded HTTP request")
}

# Near misses: only HTTP on the port; no flows at all (nothing to judge).
test_http_only_passes if {
	count(http_non_http_port.deny) == 0 with input as with_traffic(7, 0)
	count(http_non_http_port.deny) == 0 with input as policy
}
