package ppc.lint.cilium.fqdn_without_dns_test

import data.ppc.lint.cilium.fqdn_without_dns

fqdn := {"toFQDNs": [{"matchName": "api.example.com"}], "toPorts": [{"ports": [{"port": "443"}]}]}

dns := {"toEndpoints": [{}], "toPorts": [{"ports": [{"port": "53", "protocol": "UDP"}], "rules": {"dns": [{"matchPattern": "*"}]}}]}

test_fqdn_without_dns_denied if {
	ds := fqdn_without_dns.deny with input as {"spec": {"egress": [fqdn]}}
	ds == {{"msg": "toFQDNs, but no policy that applies to the pods this policy selects has an egress rule with toPorts.rules.dns (no other policy applies there): the DNS proxy never sees the names, so the rule never matches", "path": ["spec", "egress", 0, "toFQDNs"]}}
}

test_fqdn_with_dns_passes if {
	count(fqdn_without_dns.deny) == 0 with input as {"spec": {"egress": [dns, fqdn]}}
}

# Each spec of a specs list selects its own pods: a DNS rule in another
# spec does not count unless it selects the same pods.
test_dns_in_another_spec_does_not_count if {
	count(fqdn_without_dns.deny) == 1 with input as {"specs": [{"egress": [fqdn]}, {"egress": [dns]}]}
}

# The set view: web's pods are also selected by a namespace-wide policy
# that gives them the DNS rule, as Cilium enforces both together.
web := {"metadata": {"name": "web", "namespace": "shop"}, "spec": {"endpointSelector": {"matchLabels": {"app": "web"}}, "egress": [fqdn]}}

view(specs) := {"method": "selectors", "workloads": [{"name": "the pods shop/web.spec selects", "policies": sort({sp.policy | some sp in specs}), "specs": specs}]}

own := {"policy": "shop/web", "path": "spec", "spec": web.spec}

baseline := {"policy": "shop/dns", "path": "spec", "spec": {"endpointSelector": {}, "egress": [dns]}}

test_dns_from_a_namespace_wide_policy_passes if {
	count(fqdn_without_dns.deny) == 0 with input as object.union(web, {"ppc": view([own, baseline])})
}

test_without_the_baseline_denied_naming_no_other if {
	ds := fqdn_without_dns.deny with input as object.union(web, {"ppc": view([own])})
	some d in ds
	contains(d.msg, "the pods shop/web.spec selects")
	contains(d.msg, "(no other policy applies there)")
}

# A policy that applies there without a DNS rule is named, not counted.
test_other_policy_without_dns_named if {
	other := {"policy": "shop/metrics", "path": "spec", "spec": {"endpointSelector": {}, "ingress": [{}]}}
	ds := fqdn_without_dns.deny with input as object.union(web, {"ppc": view([own, other])})
	some d in ds
	contains(d.msg, "(other policies that apply there: shop/metrics)")
}

# With flows, one workload of several lacks the rule: denied, naming it.
test_one_workload_of_several_lacks_dns if {
	ppc := {"method": "flows", "workloads": [
		{"name": "shop/web-a", "policies": ["shop/dns", "shop/web"], "specs": [baseline, own]},
		{"name": "shop/web-b", "policies": ["shop/web"], "specs": [own]},
	]}
	ds := fqdn_without_dns.deny with input as object.union(web, {"ppc": ppc})
	count(ds) == 1
	some d in ds
	contains(d.msg, "shop/web-b")
}
