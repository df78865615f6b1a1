# METADATA
# title: toFQDNs without a DNS rule
# description: >-
#   toFQDNs only matches addresses the Cilium DNS proxy has seen in answers,
#   and the proxy only sees DNS traffic that a rule with toPorts.rules.dns
#   sends to it. Without such a rule for the same endpoints the FQDN rule
#   never matches and the traffic is denied. Add an egress rule to the DNS
#   servers on port 53 with rules.dns (matchPattern "*" to see every query).
# custom:
#   id: CIL003
#   severity: deny
package ppc.lint.cilium.fqdn_without_dns

import data.ppc.lint.lib

deny contains {"msg": "toFQDNs without an egress rule with toPorts.rules.dns in the same rule set: the DNS proxy never sees the names, so the rule never matches", "path": array.concat(x.path, ["toFQDNs"])} if {
	some x in lib.sections
	x.dir == "egress"
	count(object.get(x.rule, "toFQDNs", [])) > 0
	not dns_rule(x.spec)
}

dns_rule(s) if {
	some r in s.spec.egress
	some e in r.toPorts
	count(object.get(object.get(e, "rules", {}), "dns", [])) > 0
}
