package ppc.lint.cilium.l7_port_range_test

import data.ppc.lint.cilium.l7_port_range

l7(ports) := {"spec": {"ingress": [{"toPorts": [{"ports": ports, "rules": {"http": [{"method": "GET"}]}}]}]}}

test_l7_on_range_denied if {
	ds := l7_port_range.deny with input as l7([{"port": "8000", "endPort": 8080}])
	ds == {{"msg": "L7 rules on the port range 8000-8080", "path": ["spec", "ingress", 0, "toPorts", 0, "ports", 0]}}
}

test_l7_on_one_port_passes if {
	count(l7_port_range.deny) == 0 with input as l7([{"port": "8080"}])
}

test_range_without_l7_passes if {
	count(l7_port_range.deny) == 0 with input as {"spec": {"ingress": [{"toPorts": [{"ports": [{"port": "8000", "endPort": 8080}]}]}]}}
}

# A named port has no range: neither a finding nor an error.
test_named_port_passes if {
	count(l7_port_range.deny) == 0 with input as l7([{"port": "http", "endPort": 8080}])
}
