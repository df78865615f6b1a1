# Helpers of the lint packs: the rules of a policy with their data paths.
package ppc.lint.lib

# specs are the policy's rule bodies: spec and every specs[i].
specs contains {"path": ["spec"], "spec": input.spec} if input.spec

specs contains {"path": ["specs", i], "spec": s} if some i, s in input.specs

# sections are the policy's ingress, ingressDeny, egress and egressDeny
# rules with their paths.
sections contains {"path": array.concat(s.path, [dir, i]), "dir": dir, "rule": r, "spec": s} if {
	some s in specs
	some dir in ["ingress", "ingressDeny", "egress", "egressDeny"]
	some i, r in s.spec[dir]
}

# allow_sections are the ingress and egress (allow) rules.
allow_sections contains x if {
	some x in sections
	x.dir in {"ingress", "egress"}
}

# port_lists are every toPorts entry with its path.
port_lists contains {"path": array.concat(x.path, ["toPorts", j]), "entry": e, "section": x} if {
	some x in sections
	some j, e in x.rule.toPorts
}

# selectors are every label selector with its path; node is set for the
# ones matched against node labels (nodeSelector, fromNodes, toNodes).
selectors contains {"path": array.concat(s.path, [k]), "sel": s.spec[k], "node": k == "nodeSelector"} if {
	some s in specs
	some k in ["endpointSelector", "nodeSelector"]
	s.spec[k]
}

selectors contains {"path": array.concat(x.path, [k, i]), "sel": sel, "node": k in {"fromNodes", "toNodes"}} if {
	some x in sections
	some k in ["fromEndpoints", "toEndpoints", "fromNodes", "toNodes"]
	some i, sel in x.rule[k]
}

# selector_keys are the label keys a selector matches on.
selector_keys(sel) := {k | some k, _ in sel.matchLabels} | {e.key | some e in sel.matchExpressions}

# has_ports reports whether a rule restricts ports (or ICMP types).
has_ports(rule) if count(object.get(rule, "toPorts", [])) > 0

has_ports(rule) if count(object.get(rule, "icmps", [])) > 0

# ---- what Cilium enforces at each endpoint -----------------------------------
#
# Cilium resolves, for each endpoint, every rule whose subject selects it
# (pkg/policy/repository.go, resolvePolicyLocked over the rules matching the
# endpoint's identity) and enforces their union. input.ppc gives each
# workload this policy selects with the rule bodies of every policy that
# selects it (see lint/README.md, "The set view").

# own_name is this policy's name as input.ppc names policies.
own_name := concat("/", [input.metadata.namespace, input.metadata.name]) if input.metadata.namespace

own_name := object.get(input, ["metadata", "name"], "") if not input.metadata.namespace

# views are the workloads this policy selects: {name, policies, specs}, the
# specs being {policy, path, spec} of every policy that applies there. Without
# input.ppc (a pack's own tests), each of this policy's bodies alone.
views := [{"name": w.name, "policies": w.policies, "specs": w.specs} | some w in input.ppc.workloads] if input.ppc

views := [{"name": "the pods this policy selects", "policies": [own_name], "specs": [{"policy": own_name, "path": spec_path(s.path), "spec": s.spec}]} |
	some s in specs
] if not input.ppc

# spec_path names a body by its data path: "spec" or "specs[i]".
spec_path(p) := "spec" if p[0] == "spec"

spec_path(p) := sprintf("specs[%d]", [p[1]]) if p[0] == "specs"

# views_of(x) are the views of the workloads the body of section (or spec)
# x selects.
views_of(x) := [v |
	some v in views
	some sp in v.specs
	sp.policy == own_name
	sp.path == spec_path(x.path)
]

# others(v) names the policies of view v other than this one ("" if none).
others(v) := concat(", ", [n | some n in v.policies; n != own_name])

# taken_into_account(v) says which other policies a finding considered.
taken_into_account(v) := sprintf(" (other policies that apply there: %s)", [others(v)]) if others(v) != ""

taken_into_account(v) := " (no other policy applies there)" if others(v) == ""
