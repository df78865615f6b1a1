# METADATA
# title: toFQDNs without a DNS rule
# description: >-
#   toFQDNs only matches addresses the Cilium DNS proxy has seen in answers,
#   and the proxy only sees DNS traffic that a rule with toPorts.rules.dns
#   sends to it (pkg/fqdn/dnsproxy; the redirect is installed per endpoint
#   from the L7 rules that apply to it). The DNS rule may come from any
#   policy that selects the same pods — a namespace-wide or clusterwide
#   baseline is the common way — but without one for some of them the FQDN
#   rule never matches there and the traffic is denied. Add an egress rule
#   to the DNS servers on port 53 with rules.dns (matchPattern "*" to see
#   every query).
# custom:
#   id: CIL003
#   severity: deny
package ppc.lint.cilium.fqdn_without_dns

import data.ppc.lint.lib

deny contains {"msg": sprintf("toFQDNs, but no policy that applies to %s has an egress rule with toPorts.rules.dns%s: the DNS proxy never sees the names, so the rule never matches", [v.name, lib.taken_into_account(v)]), "path": array.concat(x.path, ["toFQDNs"])} if {
	some x in lib.sections
	x.dir == "egress"
	count(object.get(x.rule, "toFQDNs", [])) > 0
	lacking := [v | some v in lib.views_of(x); not dns_rule(v)]
	v := lacking[0]
}

# dns_rule(v): some body that applies to the workload sends DNS to the proxy.
dns_rule(v) if {
	some sp in v.specs
	some r in sp.spec.egress
	some e in r.toPorts
	count(object.get(object.get(e, "rules", {}), "dns", [])) > 0
}
