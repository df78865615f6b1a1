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

# selectors are every label selector with its path.
selectors contains {"path": array.concat(s.path, [k]), "sel": s.spec[k]} if {
	some s in specs
	some k in ["endpointSelector", "nodeSelector"]
	s.spec[k]
}

selectors contains {"path": array.concat(x.path, [k, i]), "sel": sel} if {
	some x in sections
	some k in ["fromEndpoints", "toEndpoints", "fromNodes", "toNodes"]
	some i, sel in x.rule[k]
}

# selector_keys are the label keys a selector matches on.
selector_keys(sel) := {k | some k, _ in sel.matchLabels} | {e.key | some e in sel.matchExpressions}

# has_ports reports whether a rule restricts ports (or ICMP types).
has_ports(rule) if count(object.get(rule, "toPorts", [])) > 0

has_ports(rule) if count(object.get(rule, "icmps", [])) > 0
