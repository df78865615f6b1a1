# METADATA
# title: L7 rules on a port range
# description: >-
#   L7 rules redirect one port to the proxy. Cilium rejects DNS rules on a
#   port range, and HTTP or Kafka rules on a range make every port of it go
#   through the proxy, which is rarely what was meant. Put L7 rules on single
#   ports.
# custom:
#   id: CIL008
#   severity: deny
package ppc.lint.cilium.l7_port_range

import data.ppc.lint.lib

deny contains {"msg": sprintf("L7 rules on the port range %s-%d", [q.port, q.endPort]), "path": array.concat(p.path, ["ports", i])} if {
	some p in lib.port_lists
	count(object.keys(object.get(p.entry, "rules", {}))) > 0
	some i, q in p.entry.ports
	regex.match(`^[0-9]+$`, q.port) # a named port has no range
	object.get(q, "endPort", 0) > to_number(q.port)
}
