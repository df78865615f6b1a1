package ppc.lint.cilium.unselected_workload_test

import data.ppc.lint.cilium.unselected_workload

pol := {"metadata": {"name": "web", "namespace": "shop"}, "spec": {"endpointSelector": {"matchLabels": {"app": "web"}}, "ingress": [{}]}}

test_unselected_workload_warned if {
	ws := unselected_workload.warn with input as object.union(pol, {"ppc": {"method": "flows", "workloads": [], "unselected": [{"name": "shop/legacy", "namespace": "shop", "labels": {"app": "legacy"}}]}})
	ws == {{"msg": "workload shop/legacy, seen in the flows, is selected by no policy while others in namespace shop are: Cilium allows all its traffic", "path": ["metadata", "namespace"]}}
}

# Every workload selected, or no flows to tell: nothing.
test_all_selected_passes if {
	count(unselected_workload.warn) == 0 with input as object.union(pol, {"ppc": {"method": "flows", "workloads": [], "unselected": []}})
	count(unselected_workload.warn) == 0 with input as object.union(pol, {"ppc": {"method": "selectors", "workloads": []}})
	count(unselected_workload.warn) == 0 with input as pol
}
