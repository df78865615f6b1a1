package ppc.lint.cilium.world_all_ports_test

import data.ppc.lint.cilium.world_all_ports

test_world_without_ports_denied if {
	ds := world_all_ports.deny with input as {"spec": {"ingress": [{"fromEntities": ["world"]}]}}
	ds == {{"msg": "ingress: fromEntities allows \"world\" on every port", "path": ["spec", "ingress", 0, "fromEntities"]}}
}

test_all_in_specs_list_denied if {
	count(world_all_ports.deny) == 1 with input as {"specs": [{"egress": [{"toEntities": ["all"]}]}]}
}

test_world_with_ports_passes if {
	count(world_all_ports.deny) == 0 with input as {"spec": {"egress": [{"toEntities": ["world"], "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}]}]}}
}

test_cluster_entity_passes if {
	count(world_all_ports.deny) == 0 with input as {"spec": {"ingress": [{"fromEntities": ["cluster"]}]}}
}

test_deny_sections_are_not_allows if {
	count(world_all_ports.deny) == 0 with input as {"spec": {"ingressDeny": [{"fromEntities": ["world"]}]}}
}

# Deny takes precedence: the policy's own port-less ingressDeny of world
# cancels the allow.
test_own_deny_of_world_cancels_the_allow if {
	count(world_all_ports.deny) == 0 with input as {"spec": {"ingress": [{"fromEntities": ["world"]}], "ingressDeny": [{"fromEntities": ["world"]}]}}
}

test_deny_of_all_cancels_world_ipv4 if {
	count(world_all_ports.deny) == 0 with input as {"spec": {"egress": [{"toEntities": ["world-ipv4"]}], "egressDeny": [{"toEntities": ["all"]}]}}
}

# A deny on some ports only, or in the other direction, cancels nothing.
test_deny_with_ports_keeps_the_finding if {
	count(world_all_ports.deny) == 1 with input as {"spec": {"ingress": [{"fromEntities": ["world"]}], "ingressDeny": [{"fromEntities": ["world"], "toPorts": [{"ports": [{"port": "22"}]}]}]}}
}

test_deny_in_other_direction_keeps_the_finding if {
	count(world_all_ports.deny) == 1 with input as {"spec": {"ingress": [{"fromEntities": ["world"]}], "egressDeny": [{"toEntities": ["world"]}]}}
}

# Another policy that selects the same pods denies world: cancelled there.
test_deny_in_another_policy_of_the_workload if {
	own := {"metadata": {"name": "web", "namespace": "shop"}, "spec": {"endpointSelector": {}, "ingress": [{"fromEntities": ["world"]}]}}
	other := {"policy": "shop/no-world", "path": "spec", "spec": {"endpointSelector": {}, "ingressDeny": [{"fromEntities": ["world"]}]}}
	ppc := {"method": "selectors", "workloads": [{"name": "w", "policies": ["shop/no-world", "shop/web"], "specs": [other, {"policy": "shop/web", "path": "spec", "spec": own.spec}]}]}
	count(world_all_ports.deny) == 0 with input as object.union(own, {"ppc": ppc})
}
