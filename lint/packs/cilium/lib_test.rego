package ppc.lint.lib_test

import data.ppc.lint.lib

test_sections_of_spec_and_specs if {
	xs := lib.sections with input as {"spec": {"ingress": [{}], "egressDeny": [{}]}, "specs": [{"egress": [{}]}]}
	{x.path | some x in xs} == {["spec", "ingress", 0], ["spec", "egressDeny", 0], ["specs", 0, "egress", 0]}
}

test_allow_sections_leave_deny_out if {
	xs := lib.allow_sections with input as {"spec": {"ingress": [{}], "ingressDeny": [{}]}}
	{x.dir | some x in xs} == {"ingress"}
}

test_selector_keys if {
	lib.selector_keys({"matchLabels": {"a": "1"}, "matchExpressions": [{"key": "b", "operator": "Exists"}]}) == {"a", "b"}
}

test_has_ports if {
	lib.has_ports({"toPorts": [{}]})
	lib.has_ports({"icmps": [{}]})
	not lib.has_ports({"toPorts": []})
}
