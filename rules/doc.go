// Package rules owns ppc's rule packs: loading Rego modules and settings
// from the embedded default pack and organisation packs (directories),
// layering them (settings merged in Go; extension packages ppc.ext.<name>;
// whole-stage replacement decided at load time), preparing the decision
// query once, and evaluating it over the IR with network, file and
// time-dependent builtins removed and a timeout.
//
// The contract packs implement is documented in rules/README.md.
package rules
