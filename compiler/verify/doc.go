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
// It validates the exact JSON bytes that are emitted.
package verify
