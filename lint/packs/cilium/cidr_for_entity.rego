# METADATA
# title: CIDR rule on node or API-server addresses
# description: >-
#   A CIDR rule that targets node or API-server addresses (its CIDR lies
#   within them) does not do what it says: traffic to nodes and to the API
#   server carries Cilium's reserved identities (host, remote-node,
#   kube-apiserver), not a CIDR identity, so the rule does not match it
#   (pkg/ipcache gives an address labelled as a node or the API server a
#   reserved identity; CIDR selectors reach nodes only with the agent's
#   --policy-cidr-match-mode=nodes, pkg/option). Use toEntities
#   kube-apiserver, host or remote-node. The addresses are
#   settings of this pack (lint.apiserver_cidrs, lint.node_cidrs in
#   config.yaml).
# custom:
#   id: CIL006
#   severity: warn
package ppc.lint.cilium.cidr_for_entity

import data.ppc.lint.lib

targets contains {"cidr": c, "entity": "kube-apiserver"} if some c in data.ppc.config.lint.apiserver_cidrs

targets contains {"cidr": c, "entity": "remote-node/host"} if some c in data.ppc.config.lint.node_cidrs

warn contains {"msg": sprintf("%s is within %s: use toEntities/fromEntities %s", [c.value, concat(", ", hit), concat(" or ", ents)]), "path": c.path} if {
	some c in cidrs
	hit := sort([t.cidr | some t in targets; net.cidr_contains(t.cidr, c.value)])
	count(hit) > 0
	ents := sort({t.entity | some t in targets; net.cidr_contains(t.cidr, c.value)})
}

cidrs contains {"value": v, "path": array.concat(x.path, [f, i])} if {
	some x in lib.sections
	some f in ["toCIDR", "fromCIDR"]
	some i, v in x.rule[f]
	net.cidr_is_valid(v) # an invalid CIDR is verify's finding, not this rule's
}

cidrs contains {"value": v.cidr, "path": array.concat(x.path, [f, i, "cidr"])} if {
	some x in lib.sections
	some f in ["toCIDRSet", "fromCIDRSet"]
	some i, v in x.rule[f]
	net.cidr_is_valid(v.cidr)
}
