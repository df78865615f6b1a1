package ppc.hooks_test

import data.ppc.hooks

# Hooks of several organisation packs are unioned.
test_hooks_union if {
	hooks.exclude_namespace == {"a", "b", "c"} with data.ppc.ext.one.exclude_namespace as {"a"}
		with data.ppc.ext.two.exclude_namespace as {"b"}
		with data.ppc.config.exclude_namespaces as ["c"]
}

test_policy_labels_hook if {
	hooks.policy_labels == {{"key": "team", "value": "a"}} with data.ppc.ext.one.policy_labels as {{"key": "team", "value": "a"}}
}
