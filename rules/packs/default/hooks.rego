# Package ppc.hooks is the extension point of the default pack. Organisation
# packs never edit it: they live in their own package ppc.ext.<name> and
# define any of the multi-value rules below, which are unioned here, so any
# number of packs compose without conflicts.
package ppc.hooks

import data.ppc.lib

# exclude_namespace: namespaces whose workloads get no policy at all.
exclude_namespace contains ns if some ns in lib.setting("exclude_namespaces", [])

exclude_namespace contains ns if some ns in data.ppc.ext[_].exclude_namespace

# exclude_ingress_namespace / exclude_egress_namespace: namespaces whose
# workloads get no ingress (egress) section.
exclude_ingress_namespace contains ns if some ns in data.ppc.ext[_].exclude_ingress_namespace

exclude_egress_namespace contains ns if some ns in data.ppc.ext[_].exclude_egress_namespace

# exclude_edge: {"edge": id, "reason": text} — an observed connection the
# organisation does not want allowed. It stays denied, and replay reports it
# as denied by decision rather than as a failure.
exclude_edge contains x if {
	some x in data.ppc.ext[_].exclude_edge
}

# extra_labels: {"workload": id, "key": k, "value": v} added to a workload's
# selector.
extra_labels contains x if {
	some x in data.ppc.ext[_].extra_labels
}

# policy_labels: {"key": k, "value": v} added to every policy's metadata.
policy_labels contains x if {
	some x in data.ppc.ext[_].policy_labels
}
