package ppc.lint.cilium.dead_allow_test

import data.ppc.lint.cilium.dead_allow

web := {"app": "web"}

test_allow_cancelled_by_own_deny_warned if {
	ws := dead_allow.warn with input as {"spec": {
		"ingress": [{"fromEndpoints": [{"matchLabels": web}], "toPorts": [{"ports": [{"port": "80"}]}]}],
		"ingressDeny": [{"fromEndpoints": [{"matchLabels": web}]}],
	}}
	count(ws) == 1
	some w in ws
	w.path == ["spec", "ingress", 0]
	contains(w.msg, "denied on the ports it allows by  spec.ingressDeny[0]")
}

test_deny_of_all_cancels_everything if {
	count(dead_allow.warn) == 1 with input as {"spec": {"egress": [{"toCIDR": ["10.0.0.0/8"]}], "egressDeny": [{"toEntities": ["all"]}]}}
}

# Near misses: a deny on fewer ports, of another peer, in the other
# direction, or covering some peers of the rule only.
test_deny_on_other_ports_passes if {
	count(dead_allow.warn) == 0 with input as {"spec": {"ingress": [{"fromEntities": ["world"], "toPorts": [{"ports": [{"port": "443"}]}]}], "ingressDeny": [{"fromEntities": ["world"], "toPorts": [{"ports": [{"port": "22"}]}]}]}}
}

test_deny_of_another_peer_passes if {
	count(dead_allow.warn) == 0 with input as {"spec": {"ingress": [{"fromEndpoints": [{"matchLabels": web}]}], "ingressDeny": [{"fromEndpoints": [{"matchLabels": {"app": "api"}}]}]}}
}

test_deny_in_other_direction_passes if {
	count(dead_allow.warn) == 0 with input as {"spec": {"ingress": [{"fromEntities": ["world"]}], "egressDeny": [{"toEntities": ["world"]}]}}
}

test_some_peers_denied_passes if {
	count(dead_allow.warn) == 0 with input as {"spec": {"ingress": [{"fromEntities": ["world", "cluster"]}], "ingressDeny": [{"fromEntities": ["world"]}]}}
}

# An isolating rule ({}) has no peer: nothing to cancel.
test_empty_rule_passes if {
	count(dead_allow.warn) == 0 with input as {"spec": {"ingress": [{}], "ingressDeny": [{"fromEntities": ["all"]}]}}
}

# Another policy that selects the same pods cancels it.
test_deny_in_another_policy if {
	own := {"metadata": {"name": "batch", "namespace": "jobs"}, "spec": {"endpointSelector": {}, "egress": [{"toEntities": ["world"]}]}}
	other := {"policy": "jobs/no-internet", "path": "spec", "spec": {"endpointSelector": {}, "egressDeny": [{"toEntities": ["world"]}]}}
	ppc := {"method": "selectors", "workloads": [{"name": "w", "policies": ["jobs/batch", "jobs/no-internet"], "specs": [{"policy": "jobs/batch", "path": "spec", "spec": own.spec}, other]}]}
	ws := dead_allow.warn with input as object.union(own, {"ppc": ppc})
	some w in ws
	contains(w.msg, "jobs/no-internet spec.egressDeny[0]")
}
