# METADATA
# title: an allow another policy already gives
# description: >-
#   Cilium enforces the union of the policies that select an endpoint
#   (pkg/policy/repository.go), so an allow rule identical to one of another
#   policy that selects every pod this one does adds nothing. Two copies
#   drift: a later change to one leaves the other open. Keep the rule in
#   one place. (Reported on the policy whose name sorts last, once per pair.)
# custom:
#   id: CIL011
#   severity: warn
package ppc.lint.cilium.redundant_allow

import data.ppc.lint.lib

warn contains {"msg": sprintf("%s: the same rule is in %s, which also applies at %s: this copy adds nothing", [x.dir, concat(", ", sort(copies)), v.name]), "path": x.path} if {
	some x in lib.allow_sections
	count(x.rule) > 0
	some v in lib.views_of(x)
	copies := {sprintf("%s %s.%s[%d]", [sp.policy, sp.path, x.dir, i]) |
		some sp in v.specs
		sp.policy < lib.own_name
		some i, r in sp.spec[x.dir]
		r == x.rule
	}
	count(copies) > 0
	every w in lib.views_of(x) {
		some sp in w.specs
		sp.policy < lib.own_name
		some r in sp.spec[x.dir]
		r == x.rule
	}
}
