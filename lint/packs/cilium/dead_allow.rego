# METADATA
# title: an allow a deny cancels
# description: >-
#   Deny rules take precedence over allow rules (pkg/policy/mapstate.go: a
#   deny entry wins over every allow entry it covers). An allow rule whose
#   every peer a deny of the same direction denies on every port it allows —
#   in this policy or another that selects the same pods — allows nothing:
#   it misleads a reviewer, and removing the deny later opens more than
#   anyone reviewed. Remove the allow, or narrow the deny.
# custom:
#   id: CIL010
#   severity: warn
package ppc.lint.cilium.dead_allow

import data.ppc.lint.lib

warn contains {"msg": sprintf("%s: every peer of this rule is denied on the ports it allows by %s, at %s: it allows nothing (deny takes precedence)", [x.dir, concat(", ", sort(by)), v.name]), "path": x.path} if {
	some x in lib.allow_sections
	count(peers(x.rule)) > 0
	some v in lib.views_of(x)
	every p in peers(x.rule) {
		some d in deniers(v, x, p)
	}
	by := {d | some p in peers(x.rule); some d in deniers(v, x, p)}
}

# peers(r) are a rule's peers as [field, value]; the fields are the same
# for ingress (from*) and egress (to*).
peer_fields := {
	"fromEntities": "entities", "toEntities": "entities",
	"fromEndpoints": "endpoints", "toEndpoints": "endpoints",
	"fromCIDR": "cidr", "toCIDR": "cidr",
	"fromCIDRSet": "cidrset", "toCIDRSet": "cidrset",
	"toFQDNs": "fqdn", "fromNodes": "nodes", "toNodes": "nodes",
	"fromRequires": "requires", "toRequires": "requires",
	"toServices": "services", "fromGroups": "groups", "toGroups": "groups",
}

peers(r) := {[peer_fields[f], v] | some f, vs in r; peer_fields[f]; some v in vs}

deny_section := {"ingress": "ingressDeny", "egress": "egressDeny"}

# deniers(v, x, p) name the deny rules of view v ("policy path") that deny
# peer p of allow section x on every port x allows.
deniers(v, x, p) := {sprintf("%s %s.%s[%d]", [sp.policy, sp.path, deny_section[x.dir], i]) |
	some sp in v.specs
	some i, d in sp.spec[deny_section[x.dir]]
	covers_ports(d, x.rule)
	denies_peer(d, p)
}

# A port-less deny covers every port; otherwise the allow's ports must be
# exactly the deny's.
covers_ports(d, _) if not lib.has_ports(d)

covers_ports(d, r) if {
	lib.has_ports(d)
	object.get(d, "toPorts", []) == object.get(r, "toPorts", [])
	object.get(d, "icmps", []) == object.get(r, "icmps", [])
}

# denies_peer(d, p): deny rule d denies peer p: the same peer, or the
# entity "all" (every peer), "world" for any world address.
denies_peer(d, [kind, v]) if {
	some f, vs in d
	peer_fields[f] == kind
	v in vs
}

denies_peer(d, _) if {
	some f in ["fromEntities", "toEntities"]
	"all" in object.get(d, f, [])
}

denies_peer(d, ["entities", e]) if {
	e in {"world-ipv4", "world-ipv6"}
	some f in ["fromEntities", "toEntities"]
	"world" in object.get(d, f, [])
}
