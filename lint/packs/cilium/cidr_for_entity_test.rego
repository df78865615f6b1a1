package ppc.lint.cilium.cidr_for_entity_test

import data.ppc.lint.cilium.cidr_for_entity

config := {"lint": {"apiserver_cidrs": ["10.96.0.1/32"], "node_cidrs": ["192.168.0.0/24"]}}

test_apiserver_address_warned if {
	ws := cidr_for_entity.warn with input as {"spec": {"egress": [{"toCIDR": ["10.96.0.1/32"]}]}}
		with data.ppc.config as config
	ws == {{"msg": "10.96.0.1/32 is within 10.96.0.1/32: use toEntities/fromEntities kube-apiserver", "path": ["spec", "egress", 0, "toCIDR", 0]}}
}

test_node_cidr_set_warned if {
	count(cidr_for_entity.warn) == 1 with input as {"spec": {"ingress": [{"fromCIDRSet": [{"cidr": "192.168.0.7/32"}]}]}}
		with data.ppc.config as config
}

test_other_address_passes if {
	count(cidr_for_entity.warn) == 0 with input as {"spec": {"egress": [{"toCIDR": ["203.0.113.0/24"]}]}}
		with data.ppc.config as config
}

# An invalid CIDR is verify's finding; this rule neither fails nor warns.
test_invalid_cidr_ignored if {
	count(cidr_for_entity.warn) == 0 with input as {"spec": {"egress": [{"toCIDR": ["10.0.0.0/33"]}]}}
		with data.ppc.config as config
}
