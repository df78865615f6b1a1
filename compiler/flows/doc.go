// Package flows reads Hubble flows in every form users have them: the
// `hubble observe -o json|jsonpb` stream of GetFlowsResponse wrappers, legacy
// bare Flow objects, exporter files (ExportEvent, field-masked, rotated,
// gzip-compressed), NDJSON, pretty or concatenated objects, JSON arrays,
// container-log lines (CRI prefix or a Docker json-file envelope) and stdin.
//
// It is the only package that knows Hubble's wire format. Values are split
// out of the byte stream by a small scanner that keeps line numbers and has
// no line-length limit; once the input is known to be NDJSON, blocks of
// whole lines are split and decoded on every core (a regular file is read
// at positions by the decoders themselves, each its own range of lines).
// Each value is decoded into
// Cilium's own flow and observer types: by a one-pass fast decoder for the
// common shapes, which declines anything protojson might judge differently,
// and by protojson for the rest. Non-flow records are counted, never
// errors; a malformed record becomes a diagnostic naming file, line and
// reason. Records reach the callback in input order, whatever the number of
// cores: nothing holds all flows in memory.
//
// Files by job: read.go (the API: inputs, options, Read), parallel.go
// (one input on every core, in order), ahead.go and file.go (a stream's
// read-ahead, a regular file read at positions), scan.go (splitting values
// out of the bytes), decode.go (one value: fast path, else protojson),
// fast.go, fastlex.go and fastdesc.go (the fast path: flow extraction, its
// JSON lexer, its descriptor tables), protoerr.go (protojson's errors made
// readable).
package flows
