// Package reports owns ppc's output formats. Each command's formats are a
// typed registry (Formats) in a package of its own: verifyreport,
// replayreport, lintreport, explain (HTML and Markdown) and junit (the
// JUnit XML they share). This package holds the registry, the text
// helpers every command prints with (diagnostics, positions, skipped
// records, the probe line), and the CiliumNetworkPolicy YAML emitter: one
// multi-document stream, or a GitOps directory with one file per policy
// under <dir>/<namespace>/<name>.yaml, written atomically.
package reports
