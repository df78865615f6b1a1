# METADATA
# title: a workload no policy selects, next to ones that are
# description: >-
#   Cilium enforces policy only at endpoints some policy selects; an endpoint
#   no policy selects allows all traffic (pkg/policy: without a rule
#   selecting it, neither direction is in default deny). In a namespace
#   where other workloads are selected, one left out is usually an
#   oversight — a new deployment, or a selector that no longer matches its
#   labels — and an open door next to closed ones. Only the flows show such
#   a workload (ppc lint --flows): select it with a policy, or state with a
#   namespace-wide one what it may do.
# custom:
#   id: CIL009
#   severity: warn
package ppc.lint.cilium.unselected_workload

warn contains {"msg": sprintf("workload %s, seen in the flows, is selected by no policy while others in namespace %s are: Cilium allows all its traffic", [w.name, w.namespace]), "path": ["metadata", "namespace"]} if {
	some w in input.ppc.unselected
}
