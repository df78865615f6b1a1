# METADATA
# title: egress rules without DNS
# description: >-
#   An egress section turns on default deny for egress at the pods it
#   selects: whatever no policy selecting them allows is dropped, name
#   lookups included (Cilium enforces the union of the policies that select
#   an endpoint; pkg/policy/repository.go). Unless the workload never
#   resolves a name, allow port 53 to the cluster's DNS servers — in this
#   policy or in one that selects the same pods, such as a namespace-wide
#   baseline — with rules.dns, so toFQDNs works and queries are visible.
# custom:
#   id: CIL004
#   severity: warn
package ppc.lint.cilium.egress_without_dns

import data.ppc.lint.lib

warn contains {"msg": sprintf("egress is default-deny at %s and no egress rule of a policy that applies there allows port 53%s: the workload cannot resolve names", [v.name, lib.taken_into_account(v)]), "path": array.concat(s.path, ["egress"])} if {
	some s in lib.specs
	count(object.get(s.spec, "egress", [])) > 0
	object.get(s.spec, ["enableDefaultDeny", "egress"], true) != false
	lacking := [v | some v in lib.views_of(s); not allows_dns(v)]
	v := lacking[0]
}

# allows_dns(v): some egress rule of a body that applies there allows 53.
allows_dns(v) if {
	some sp in v.specs
	some r in sp.spec.egress
	not lib.has_ports(r) # a rule without ports allows every port to its peers
}

allows_dns(v) if {
	some sp in v.specs
	some r in sp.spec.egress
	some e in r.toPorts
	some p in e.ports
	covers_53(p)
}

covers_53(p) if p.port in {"53", "dns", "domain"}

covers_53(p) if p.port == "0"

covers_53(p) if {
	regex.match(`^[0-9]+$`, p.port) # a named port ("http") is no range start
	to_number(p.port) <= 53
	object.get(p, "endPort", 0) >= 53
}
