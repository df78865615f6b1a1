# METADATA
# title: world or all entities on every port
# description: >-
#   A rule that allows the world entity (or "all") without toPorts opens every
#   port and protocol to or from every address outside the cluster. Name the
#   ports the workload serves or calls; if the peer is a known service,
#   prefer toFQDNs or toCIDRSet over the whole world.
# custom:
#   id: CIL001
#   severity: deny
package ppc.lint.cilium.world_all_ports

import data.ppc.lint.lib

broad := {"world", "world-ipv4", "world-ipv6", "all"}

deny contains {"msg": sprintf("%s: %s allows %q on every port", [x.dir, field, e]), "path": array.concat(x.path, [field])} if {
	some x in lib.allow_sections
	some field in ["toEntities", "fromEntities"]
	some e in x.rule[field]
	e in broad
	not lib.has_ports(x.rule)
}
