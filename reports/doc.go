// Package reports owns ppc's output formats. This file set holds the
// CiliumNetworkPolicy YAML emitter: one multi-document stream, or one file
// per policy under <dir>/<namespace>/<name>.yaml, written atomically.
package reports
