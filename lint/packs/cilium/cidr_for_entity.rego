# METADATA
# title: CIDR rule on node or API-server addresses
# description: >-
#   Traffic to nodes and to the API server carries Cilium's reserved
#   identities (host, remote-node, kube-apiserver), not a CIDR identity, so a
#   CIDR rule for those addresses does not match it. Use toEntities
#   kube-apiserver, host or remote-node. The addresses are settings of this
#   pack (lint.apiserver_cidrs, lint.node_cidrs in config.yaml).
# custom:
#   id: CIL006
#   severity: warn
package ppc.lint.cilium.cidr_for_entity

import data.ppc.lint.lib

targets contains {"cidr": c, "entity": "kube-apiserver"} if some c in data.ppc.config.lint.apiserver_cidrs

targets contains {"cidr": c, "entity": "remote-node or host"} if some c in data.ppc.config.lint.node_cidrs

warn contains {"msg": sprintf("%s covers %s (%s addresses): use toEntities/fromEntities %s", [c.value, t.cidr, t.entity, t.entity]), "path": c.path} if {
	some c in cidrs
	some t in targets
	net.cidr_intersects(c.value, t.cidr)
}

cidrs contains {"value": v, "path": array.concat(x.path, [f, i])} if {
	some x in lib.sections
	some f in ["toCIDR", "fromCIDR"]
	some i, v in x.rule[f]
}

cidrs contains {"value": v.cidr, "path": array.concat(x.path, [f, i, "cidr"])} if {
	some x in lib.sections
	some f in ["toCIDRSet", "fromCIDRSet"]
	some i, v in x.rule[f]
	v.cidr
}
