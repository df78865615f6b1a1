package ppc.lint.cilium.fqdn_without_dns_test

import data.ppc.lint.cilium.fqdn_without_dns

fqdn := {"toFQDNs": [{"matchName": "api.example.com"}], "toPorts": [{"ports": [{"port": "443"}]}]}

dns := {"toEndpoints": [{}], "toPorts": [{"ports": [{"port": "53", "protocol": "UDP"}], "rules": {"dns": [{"matchPattern": "*"}]}}]}

test_fqdn_without_dns_denied if {
	ds := fqdn_without_dns.deny with input as {"spec": {"egress": [fqdn]}}
	ds == {{"msg": "toFQDNs without an egress rule with toPorts.rules.dns in the same rule set: the DNS proxy never sees the names, so the rule never matches", "path": ["spec", "egress", 0, "toFQDNs"]}}
}

test_fqdn_with_dns_passes if {
	count(fqdn_without_dns.deny) == 0 with input as {"spec": {"egress": [dns, fqdn]}}
}

# Each spec of a specs list is judged on its own rules.
test_dns_in_another_spec_does_not_count if {
	count(fqdn_without_dns.deny) == 1 with input as {"specs": [{"egress": [fqdn]}, {"egress": [dns]}]}
}
