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
