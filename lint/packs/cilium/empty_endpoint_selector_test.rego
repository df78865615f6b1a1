package ppc.lint.cilium.empty_endpoint_selector_test

import data.ppc.lint.cilium.empty_endpoint_selector

test_empty_selector_warned if {
	ws := empty_endpoint_selector.warn with input as {"kind": "CiliumNetworkPolicy", "metadata": {"name": "x"}, "spec": {"endpointSelector": {}}}
	ws == {{"msg": "the endpointSelector selects every pod of the namespace and no ppc.policypilot.io/intent annotation says why", "path": ["spec", "endpointSelector"]}}
}

test_stated_intent_passes if {
	count(empty_endpoint_selector.warn) == 0 with input as {"kind": "CiliumNetworkPolicy", "metadata": {"annotations": {"ppc.policypilot.io/intent": "namespace baseline"}}, "spec": {"endpointSelector": {}}}
}

test_labels_pass if {
	count(empty_endpoint_selector.warn) == 0 with input as {"kind": "CiliumNetworkPolicy", "spec": {"endpointSelector": {"matchLabels": {"app": "web"}}}}
}

test_expressions_pass if {
	count(empty_endpoint_selector.warn) == 0 with input as {"kind": "CiliumNetworkPolicy", "spec": {"endpointSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]}}}
}

# Clusterwide policies select across namespaces on purpose.
test_clusterwide_passes if {
	count(empty_endpoint_selector.warn) == 0 with input as {"kind": "CiliumClusterwideNetworkPolicy", "spec": {"endpointSelector": {}}}
}
