package ppc.lint.cilium.egress_without_dns_test

import data.ppc.lint.cilium.egress_without_dns

egress(rules) := {"spec": {"egress": rules}}

test_no_dns_warned if {
	ws := egress_without_dns.warn with input as egress([{"toEndpoints": [{}], "toPorts": [{"ports": [{"port": "443"}]}]}])
	ws == {{"msg": "egress is default-deny here and no egress rule allows port 53: the workload cannot resolve names", "path": ["spec", "egress"]}}
}

test_port_53_passes if {
	count(egress_without_dns.warn) == 0 with input as egress([{"toPorts": [{"ports": [{"port": "53", "protocol": "UDP"}]}]}])
}

test_range_covering_53_passes if {
	count(egress_without_dns.warn) == 0 with input as egress([{"toPorts": [{"ports": [{"port": "1", "endPort": 1024}]}]}])
}

test_rule_without_ports_passes if {
	count(egress_without_dns.warn) == 0 with input as egress([{"toEntities": ["world"]}])
}

test_named_port_is_no_range if {
	count(egress_without_dns.warn) == 1 with input as egress([{"toPorts": [{"ports": [{"port": "http", "endPort": 100}]}]}])
}

test_default_deny_off_passes if {
	count(egress_without_dns.warn) == 0 with input as {"spec": {"enableDefaultDeny": {"egress": false}, "egress": [{"toPorts": [{"ports": [{"port": "443"}]}]}]}}
}

test_no_egress_section_passes if {
	count(egress_without_dns.warn) == 0 with input as {"spec": {"ingress": [{}]}}
}
