# METADATA
# title: world or all entities on every port
# description: >-
#   A rule that allows the world entity (or "all") without toPorts opens every
#   port and protocol to or from every address outside the cluster. Name the
#   ports the workload serves or calls; if the peer is a known service,
#   prefer toFQDNs or toCIDRSet over the whole world. Deny rules take
#   precedence over allow rules (pkg/policy/mapstate.go: a deny entry wins
#   over any allow entry it covers), so an allow that a port-less deny of
#   the same entity (or "all") cancels at every pod it selects — in this
#   policy or another that selects them — opens nothing and is not
#   reported.
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
	some v in lib.views_of(x)
	not denied(v, x.dir, e)
}

deny_field := {"ingress": ["ingressDeny", "fromEntities"], "egress": ["egressDeny", "toEntities"]}

# covering[e] are the entities a deny may name to deny all of e.
covering(e) := {e, "all", "world"} if e in {"world-ipv4", "world-ipv6"}

covering(e) := {e, "all"} if not e in {"world-ipv4", "world-ipv6"}

# denied(v, dir, e): a body that applies to the workload denies e on every
# port in that direction.
denied(v, dir, e) if {
	[section, field] := deny_field[dir]
	some sp in v.specs
	some r in sp.spec[section]
	not lib.has_ports(r)
	some d in r[field]
	d in covering(e)
}
