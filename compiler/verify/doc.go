// Package verify checks CiliumNetworkPolicy and
// CiliumClusterwideNetworkPolicy objects the way Kubernetes and Cilium do,
// with their own code, and reports every problem with its layer and data
// path:
//
//   - schema: the API server's validation of the CRD Cilium ships
//     (k8s.io/apiextensions-apiserver as a library: pruning of unknown
//     fields, defaulting, metadata, OpenAPI schema, list types, CEL);
//   - agent: the Cilium agent's CiliumNetworkPolicy.Parse and rule
//     Sanitize — an object that fails only here is accepted by
//     `kubectl apply` and then silently not enforced;
//   - ppc / org: ppc's embedded CUE schema and organisation CUE schemas.
//
// It validates the exact JSON bytes that are emitted. The API server
// layer remembers the elements of the lists Cilium's CRD judges one by one
// (rules, peers, port rules, ports) once found clean, and validates a
// policy's new elements only (crdmemo.go); what is not clean is validated
// again as written, so every report is the same as without the memo.
package verify
