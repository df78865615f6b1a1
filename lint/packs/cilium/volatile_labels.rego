# METADATA
# title: selector on a label Cilium leaves out of identities
# description: >-
#   Cilium builds security identities from a filtered set of pod labels; by
#   default labels such as pod-template-hash, controller-revision-hash,
#   statefulset.kubernetes.io/pod-name and most kubernetes.io labels are left
#   out. A selector on such a label matches no identity, so the rule selects
#   nothing. Select on labels that describe the workload (app, component,
#   app.kubernetes.io/name, …). The check asks Cilium's own label filter
#   (pkg/labelsfilter, Filter). Node selectors (nodeSelector, fromNodes,
#   toNodes) are matched against node labels, which a separate filter
#   decides (labelsfilter.FilterNodeLabels, applied in pkg/node/manager);
#   by default it keeps every node label, kubernetes.io/hostname included.
# custom:
#   id: CIL005
#   severity: deny
package ppc.lint.cilium.volatile_labels

import data.ppc.lint.lib

deny contains {"msg": sprintf("selects on %q, a label Cilium does not put in identities: the selector matches nothing", [k]), "path": x.path} if {
	some x in lib.selectors
	not x.node
	some k in lib.selector_keys(x.sel)
	not cilium.identity_label(k)
}

deny contains {"msg": sprintf("selects nodes on %q, a node label Cilium's node-label filter leaves out: the selector matches nothing", [k]), "path": x.path} if {
	some x in lib.selectors
	x.node
	some k in lib.selector_keys(x.sel)
	not cilium.node_label(k)
}
