# METADATA
# title: L7 rules on a port range
# description: >-
#   L7 rules redirect the ports they are on to a proxy. The agent rejects
#   DNS rules on a port range (pkg/policy/api/rule_validation.go,
#   PortProtocol.sanitize: "DNS rules do not support port ranges"), so the
#   whole policy is not enforced: a deny. HTTP or Kafka rules on a range are
#   accepted, and every port of the range goes through the proxy, which is
#   rarely what was meant: a warning. Put L7 rules on single ports.
# custom:
#   id: CIL008
#   severity: deny
package ppc.lint.cilium.l7_port_range

import data.ppc.lint.lib

deny contains {"msg": sprintf("DNS rules on the port range %s-%d: the Cilium agent rejects the policy and does not enforce it", [q.port, q.endPort]), "path": array.concat(p.path, ["ports", i])} if {
	some p in lib.port_lists
	count(object.get(p.entry, ["rules", "dns"], [])) > 0
	some i, q in ranges(p)
}

warn contains {"msg": sprintf("L7 rules on the port range %s-%d: every port of the range goes through the proxy", [q.port, q.endPort]), "path": array.concat(p.path, ["ports", i])} if {
	some p in lib.port_lists
	some kind, rs in object.get(p.entry, "rules", {})
	kind != "dns"
	count(rs) > 0
	some i, q in ranges(p)
}

# ranges(p) are the numeric port ranges of a toPorts entry (a named port
# has no range).
ranges(p) := {i: q |
	some i, q in p.entry.ports
	regex.match(`^[0-9]+$`, q.port)
	object.get(q, "endPort", 0) > to_number(q.port)
}
