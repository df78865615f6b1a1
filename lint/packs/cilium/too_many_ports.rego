# METADATA
# title: more than 40 ports in one list
# description: >-
#   Cilium accepts at most 40 ports in one toPorts entry
#   (pkg/policy/api/rule_validation.go, maxPorts). The API server
#   rejects more in allow rules; in deny rules it accepts them and the agent
#   rejects the whole policy, which is then silently not enforced. Split the
#   ports over several toPorts entries, or use port ranges (endPort).
# custom:
#   id: CIL007
#   severity: deny
package ppc.lint.cilium.too_many_ports

import data.ppc.lint.lib

deny contains {"msg": sprintf("%d ports in one list: Cilium allows at most 40", [n]), "path": array.concat(p.path, ["ports"])} if {
	some p in lib.port_lists
	n := count(object.get(p.entry, "ports", []))
	n > 40
}
