// Package ir owns ppc's graph intermediate representation: the endpoints and
// edges learned from Hubble flows, their provenance (counts, first/last seen,
// sample positions), the diagnostics every stage reports, the normalisation
// passes, the invariant checker, the canonical text dump used by golden tests
// and the versioned JSON form that `ppc learn` writes and `ppc compile` merges.
//
// The package depends on the standard library only: it must stay importable
// by every stage without pulling in OPA, CUE, Cilium or YAML code.
package ir
