# METADATA
# title: empty endpointSelector without a stated intent
# description: >-
#   An empty endpointSelector in a CiliumNetworkPolicy selects every pod of
#   the namespace, including pods added later (the agent adds the
#   namespace label to a namespaced policy's selector and nothing else;
#   pkg/k8s/apis/cilium.io/v2, CiliumNetworkPolicy.Parse). That is right for a
#   namespace-wide default deny, and a surprise anywhere else. State the
#   intent with the annotation ppc.policypilot.io/intent, or select the
#   workloads the policy is for.
# custom:
#   id: CIL002
#   severity: warn
package ppc.lint.cilium.empty_endpoint_selector

import data.ppc.lint.lib

warn contains {"msg": "the endpointSelector selects every pod of the namespace and no ppc.policypilot.io/intent annotation says why", "path": array.concat(s.path, ["endpointSelector"])} if {
	input.kind == "CiliumNetworkPolicy"
	some s in lib.specs
	sel := s.spec.endpointSelector
	count(object.get(sel, "matchLabels", {})) == 0
	count(object.get(sel, "matchExpressions", [])) == 0
	not intent
}

intent if input.metadata.annotations["ppc.policypilot.io/intent"] != ""
