package ppc.lint.cilium.l7_port_range_test

import data.ppc.lint.cilium.l7_port_range

l7(ports) := {"spec": {"ingress": [{"toPorts": [{"ports": ports, "rules": {"http": [{"method": "GET"}]}}]}]}}

test_http_on_range_warned if {
	ws := l7_port_range.warn with input as l7([{"port": "8000", "endPort": 8080}])
	ws == {{"msg": "L7 rules on the port range 8000-8080: every port of the range goes through the proxy", "path": ["spec", "ingress", 0, "toPorts", 0, "ports", 0]}}
	count(l7_port_range.deny) == 0 with input as l7([{"port": "8000", "endPort": 8080}])
}

# The agent rejects DNS rules on a range.
test_dns_on_range_denied if {
	ds := l7_port_range.deny with input as {"spec": {"egress": [{"toPorts": [{"ports": [{"port": "53", "endPort": 54, "protocol": "UDP"}], "rules": {"dns": [{"matchPattern": "*"}]}}]}]}}
	count(ds) == 1
}

test_l7_on_one_port_passes if {
	count(l7_port_range.deny | l7_port_range.warn) == 0 with input as l7([{"port": "8080"}])
}

test_range_without_l7_passes if {
	count(l7_port_range.deny) == 0 with input as {"spec": {"ingress": [{"toPorts": [{"ports": [{"port": "8000", "endPort": 8080}]}]}]}}
}

# A named port has no range: neither a finding nor an error.
test_named_port_passes if {
	count(l7_port_range.deny | l7_port_range.warn) == 0 with input as l7([{"port": "http", "endPort": 8080}])
}
