# METADATA
# title: egress rules without DNS
# description: >-
#   An egress section turns on default deny for egress: whatever it does not
#   allow is dropped, name lookups included. Unless the workload never
#   resolves a name, allow port 53 to the cluster's DNS servers (with
#   rules.dns, so toFQDNs works and queries are visible).
# custom:
#   id: CIL004
#   severity: warn
package ppc.lint.cilium.egress_without_dns

import data.ppc.lint.lib

warn contains {"msg": "egress is default-deny here and no egress rule allows port 53: the workload cannot resolve names", "path": array.concat(s.path, ["egress"])} if {
	some s in lib.specs
	count(object.get(s.spec, "egress", [])) > 0
	object.get(s.spec, ["enableDefaultDeny", "egress"], true) != false
	not allows_dns(s.spec)
}

# A rule without ports allows every port to its peers.
allows_dns(spec) if {
	some r in spec.egress
	not lib.has_ports(r)
}

allows_dns(spec) if {
	some r in spec.egress
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
