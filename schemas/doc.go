// Package schemas owns ppc's CUE schemas: the embedded #PPC schema (the
// constraints and invariants every policy ppc emits must satisfy) and the
// loading of organisation schemas (--schemas DIR), whose #Policy definition
// every emitted policy must also satisfy. It validates JSON bytes exactly as
// they will be written and reports every error with its data path.
package schemas
