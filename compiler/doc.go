// Package compiler runs ppc's pipeline: it owns the stage table, the
// options and the result, and holds no domain logic itself. Each stage
// calls one package: learn (compiler/flows + compiler/lower, streamed),
// normalize (ir passes), decide (rules), synthesize (compiler/synth),
// verify (compiler/verify + schemas), replay (compiler/replay) and emit
// (reports). See compiler/README.md.
package compiler
