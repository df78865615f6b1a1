# METADATA
# title: HTTP rules on a port where non-HTTP traffic was seen
# description: >-
#   An HTTP rule on a port sends every connection the endpoint accepts on
#   that port through Envoy's HTTP parser (the port is redirected to the
#   proxy for all peers the policy allows there, those of L3/L4-only rules
#   included). Connections that are not HTTP, or whose requests the proxy
#   never saw, then fail. Judged with the flows (ppc lint --flows): a port
#   of a workload this rule's body selects, where some observed connection
#   carried no recorded HTTP request. Put the HTTP rule on a port that
#   serves only HTTP, or allow that port at L3/L4 only.
# custom:
#   id: CIL013
#   severity: deny
package ppc.lint.cilium.http_non_http_port

import data.ppc.lint.lib

deny contains {"msg": msg, "path": array.concat(p.path, ["ports", i])} if {
	some p in lib.port_lists
	p.section.dir == "ingress"
	count(object.get(p.entry, ["rules", "http"], [])) > 0
	some i, q in p.entry.ports
	some v in lib.views_of(p.section)
	some w in input.ppc.workloads
	w.name == v.name
	some x in object.get(w, "serves", [])
	x.protocol == object.get(q, "protocol", "TCP")
	sprintf("%d", [x.port]) == q.port
	x.other > 0
	msg := sprintf("HTTP rules on %s/%s of %s, where %d of %d observed connections carried no recorded HTTP request: Envoy's HTTP parser would break them%s", [x.protocol, q.port, w.name, x.other, x.connections, lib.taken_into_account(v)])
}
