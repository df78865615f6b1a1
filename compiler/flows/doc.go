// Package flows reads Hubble flows in every form users have them: the
// `hubble observe -o json|jsonpb` stream of GetFlowsResponse wrappers, legacy
// bare Flow objects, exporter files (ExportEvent, field-masked, rotated,
// gzip-compressed), NDJSON, pretty or concatenated objects, JSON arrays,
// container-log lines (CRI prefix or a Docker json-file envelope) and stdin.
//
// It is the only package that knows Hubble's wire format. Values are split
// out of the byte stream by a small scanner that keeps line numbers and has
// no line-length limit; each value is decoded with protojson into Cilium's
// own flow and observer types. Non-flow records are counted, never errors;
// a malformed record becomes a diagnostic naming file, line and reason.
// Records are streamed to a callback: nothing holds all flows in memory.
package flows
