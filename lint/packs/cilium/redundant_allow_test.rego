package ppc.lint.cilium.redundant_allow_test

import data.ppc.lint.cilium.redundant_allow

metrics := {"fromEndpoints": [{"matchLabels": {"app": "prometheus", "k8s:io.kubernetes.pod.namespace": "monitoring"}}], "toPorts": [{"ports": [{"port": "9090", "protocol": "TCP"}]}]}

web := {"metadata": {"name": "web", "namespace": "shop"}, "spec": {"endpointSelector": {"matchLabels": {"app": "web"}}, "ingress": [metrics]}}

own := {"policy": "shop/web", "path": "spec", "spec": web.spec}

view(specs) := {"method": "selectors", "workloads": [{"name": "the pods shop/web.spec selects", "policies": sort({sp.policy | some sp in specs}), "specs": specs}]}

test_copy_of_a_baseline_rule_warned if {
	base := {"policy": "shop/allow-metrics", "path": "spec", "spec": {"endpointSelector": {}, "ingress": [metrics]}}
	ws := redundant_allow.warn with input as object.union(web, {"ppc": view([own, base])})
	count(ws) == 1
	some w in ws
	contains(w.msg, "shop/allow-metrics spec.ingress[0]")
}

# Reported once per pair: on the policy whose name sorts last.
test_not_reported_on_the_first_of_the_pair if {
	base := {"policy": "shop/zz-metrics", "path": "spec", "spec": {"endpointSelector": {}, "ingress": [metrics]}}
	count(redundant_allow.warn) == 0 with input as object.union(web, {"ppc": view([own, base])})
}

# Near misses: another port, another direction, or a policy that does not
# apply at every workload.
test_different_rule_passes if {
	other := json.patch(metrics, [{"op": "replace", "path": "/toPorts/0/ports/0/port", "value": "9100"}])
	base := {"policy": "shop/allow-metrics", "path": "spec", "spec": {"endpointSelector": {}, "ingress": [other]}}
	count(redundant_allow.warn) == 0 with input as object.union(web, {"ppc": view([own, base])})
}

test_other_direction_passes if {
	base := {"policy": "shop/allow-metrics", "path": "spec", "spec": {"endpointSelector": {}, "egress": [metrics]}}
	count(redundant_allow.warn) == 0 with input as object.union(web, {"ppc": view([own, base])})
}

test_copy_at_some_workloads_only_passes if {
	base := {"policy": "shop/allow-metrics", "path": "spec", "spec": {"endpointSelector": {"matchLabels": {"canary": "true"}}, "ingress": [metrics]}}
	ppc := {"method": "flows", "workloads": [
		{"name": "shop/web", "policies": ["shop/allow-metrics", "shop/web"], "specs": [base, own]},
		{"name": "shop/web-stable", "policies": ["shop/web"], "specs": [own]},
	]}
	count(redundant_allow.warn) == 0 with input as object.union(web, {"ppc": ppc})
}

test_alone_passes if {
	count(redundant_allow.warn) == 0 with input as web
}
