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
