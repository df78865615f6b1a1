package ppc.lint.cilium.egress_without_dns_test

import data.ppc.lint.cilium.egress_without_dns

egress(rules) := {"spec": {"egress": rules}}

test_no_dns_warned if {
	ws := egress_without_dns.warn with input as egress([{"toEndpoints": [{}], "toPorts": [{"ports": [{"port": "443"}]}]}])
	ws == {{"msg": "egress is default-deny at the pods this policy selects and no egress rule of a policy that applies there allows port 53 (no other policy applies there): the workload cannot resolve names", "path": ["spec", "egress"]}}
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

# The set view: a namespace-wide policy that selects the same pods allows
# DNS to them.
web := {"metadata": {"name": "web", "namespace": "shop"}, "spec": {"endpointSelector": {"matchLabels": {"app": "web"}}, "egress": [{"toEndpoints": [{}], "toPorts": [{"ports": [{"port": "443"}]}]}]}}

own := {"policy": "shop/web", "path": "spec", "spec": web.spec}

baseline := {"policy": "shop/dns", "path": "spec", "spec": {"endpointSelector": {}, "egress": [{"toEndpoints": [{}], "toPorts": [{"ports": [{"port": "53", "protocol": "UDP"}], "rules": {"dns": [{"matchPattern": "*"}]}}]}]}}

ppc(specs) := {"method": "selectors", "workloads": [{"name": "the pods shop/web.spec selects", "policies": sort({sp.policy | some sp in specs}), "specs": specs}]}

test_dns_from_another_policy_passes if {
	count(egress_without_dns.warn) == 0 with input as object.union(web, {"ppc": ppc([own, baseline])})
}

test_without_it_warned if {
	count(egress_without_dns.warn) == 1 with input as object.union(web, {"ppc": ppc([own])})
}
