package ppc.lint.cilium.volatile_labels_test

import data.ppc.lint.cilium.volatile_labels

test_pod_template_hash_denied if {
	ds := volatile_labels.deny with input as {"spec": {"endpointSelector": {"matchLabels": {"pod-template-hash": "abc"}}}}
	ds == {{"msg": "selects on \"pod-template-hash\", a label Cilium does not put in identities: the selector matches nothing", "path": ["spec", "endpointSelector"]}}
}

test_peer_selector_expression_denied if {
	count(volatile_labels.deny) == 1 with input as {"spec": {"ingress": [{"fromEndpoints": [{"matchExpressions": [{"key": "controller-revision-hash", "operator": "Exists"}]}]}]}}
}

test_app_label_passes if {
	count(volatile_labels.deny) == 0 with input as {"spec": {"endpointSelector": {"matchLabels": {"app": "web", "k8s:io.kubernetes.pod.namespace": "shop"}}}}
}

# Node selectors go through Cilium's node-label filter, which keeps every
# node label by default.
test_node_selector_on_hostname_passes if {
	count(volatile_labels.deny) == 0 with input as {"spec": {"nodeSelector": {"matchLabels": {"kubernetes.io/hostname": "n1"}}, "ingress": [{"fromNodes": [{"matchLabels": {"kubernetes.io/hostname": "n2"}}]}]}}
}

# The same key on a pod selector is still denied.
test_pod_selector_on_hostname_denied if {
	count(volatile_labels.deny) == 1 with input as {"spec": {"endpointSelector": {"matchLabels": {"kubernetes.io/hostname": "n1"}}}}
}
