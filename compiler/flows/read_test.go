package flows

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	flowpb "github.com/cilium/cilium/api/v1/flow"

	"github.com/policypilot/ppc/ir"
)

func readString(t *testing.T, name, s string, maxErrors int) (Summary, []*Record, ir.Diagnostics, error) {
	t.Helper()
	var recs []*Record
	sum, ds, err := Read(context.Background(), []Input{{Name: name, R: strings.NewReader(s)}}, Options{MaxErrors: maxErrors},
		func(r *Record) error { c := *r; recs = append(recs, &c); return nil })
	return sum, recs, ds, err
}

const wrapped = `{"flow":{"time":"2024-01-01T10:00:00Z","verdict":"FORWARDED","IP":{"source":"10.0.0.1","destination":"10.0.0.2","ipVersion":"IPv4"},"l4":{"TCP":{"source_port":40000,"destination_port":80}},"source":{"namespace":"a","pod_name":"x"},"destination":{"namespace":"b","pod_name":"y"}},"node_name":"n1","time":"2024-01-01T10:00:00Z"}`
const bare = `{"time":"2024-01-01T10:00:00Z","verdict":"FORWARDED","IP":{"source":"10.0.0.1","destination":"10.0.0.2","ipVersion":"IPv4"},"l4":{"TCP":{"source_port":40000,"destination_port":80}},"source":{"identity":"5678"},"Type":"L3_L4","node_name":"n1"}`
const camel = `{"flow":{"time":"2024-01-01T10:00:00Z","verdict":"FORWARDED","IP":{"source":"10.0.0.1","destination":"10.0.0.2","ipVersion":"IPv4"},"l4":{"TCP":{"sourcePort":40000,"destinationPort":80}},"source":{"identity":5678,"podName":"a"},"Type":"L3_L4","trafficDirection":"EGRESS","isReply":false,"nodeName":"n1"},"nodeName":"n1"}`
const lost = `{"lost_events":{"source":"HUBBLE_RING_BUFFER","num_events_lost":"1"},"node_name":"kubernetes/worker1","time":"2025-09-28T08:25:44.749505064Z"}`
const status = `{"node_status":{"state_change":"NODE_UNAVAILABLE","node_names":["c1/w2"],"message":"connection refused"},"node_name":"c1/hubble-relay-x","time":"2025-01-01T00:00:00Z"}`
const agent = `{"agent_event":{},"node_name":"my-node","time":"1970-01-01T00:00:02Z"}`

func TestReadForms(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		flows     int
		nonFlow   map[string]int64
		lines     []int
		wantWarns int
	}{
		{"ndjson wrapped", wrapped + "\n" + wrapped + "\n", 2, nil, []int{1, 2}, 0},
		{"bare legacy with string identity", bare + "\n", 1, nil, []int{1}, 0},
		{"camelCase json names", camel, 1, nil, []int{1}, 0},
		{"array of wrappers", "[\n" + wrapped + ",\n" + wrapped + "\n]\n", 2, nil, []int{2, 3}, 0},
		{"concatenated objects without newline", wrapped + wrapped, 2, nil, []int{1, 1}, 0},
		{"pretty object", "{\n  \"flow\": {\n    \"verdict\": \"FORWARDED\"\n  }\n}\n{\n \"flow\": {}\n}\n", 2, nil, []int{1, 6}, 0},
		{"non-flow records counted", lost + "\n" + status + "\n" + agent + "\n" + wrapped + "\n", 1,
			map[string]int64{"lost_events": 1, "node_status": 1, "agent_event": 1}, []int{4}, 0},
		{"bare lost event", `{"source":"HUBBLE_RING_BUFFER","num_events_lost":"1","cpu":5}` + "\n", 0, map[string]int64{"lost_events": 1}, nil, 0},
		{"cri prefix", "2026-09-15T16:20:01.123Z stdout F " + wrapped + "\n", 1, nil, []int{1}, 0},
		{"docker envelope", `{"log":"` + strings.ReplaceAll(wrapped, `"`, `\"`) + `\n","stream":"stdout","time":"2026-01-01T00:00:00Z"}` + "\n", 1, nil, []int{1}, 0},
		{"unknown field warns once", strings.Replace(wrapped, `"verdict"`, `"bogus":1,"verdict"`, 1) + "\n" +
			strings.Replace(wrapped, `"verdict"`, `"bogus":1,"verdict"`, 1) + "\n", 2, nil, []int{1, 2}, 1},
		{"extensions stripped", strings.Replace(wrapped, `"verdict"`, `"extensions":{"@type":"type.googleapis.com/utils.RetinaMetadata","x":1},"verdict"`, 1), 1, nil, []int{1}, 0},
		{"crlf line endings", wrapped + "\r\n" + wrapped + "\r\n", 2, nil, []int{1, 2}, 0},
		{"empty input", "", 0, nil, nil, 0},
		{"strings with braces", strings.Replace(wrapped, `"pod_name":"x"`, `"pod_name":"x}{]["`, 1), 1, nil, []int{1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sum, recs, ds, err := readString(t, "f.json", tt.in, 0)
			if err != nil {
				t.Fatalf("Read: %v\n%v", err, ds)
			}
			if len(recs) != tt.flows || sum.Flows != int64(tt.flows) {
				t.Fatalf("got %d flows (summary %d), want %d", len(recs), sum.Flows, tt.flows)
			}
			for i, r := range recs {
				if r.Pos.Line != tt.lines[i] || r.Pos.File != "f.json" {
					t.Errorf("record %d at %v, want line %d", i, r.Pos, tt.lines[i])
				}
			}
			for k, v := range tt.nonFlow {
				if sum.NonFlow[k] != v {
					t.Errorf("non-flow %s = %d, want %d", k, sum.NonFlow[k], v)
				}
			}
			if got := ds.Count(ir.Warning); got != tt.wantWarns {
				t.Errorf("got %d warnings, want %d: %v", got, tt.wantWarns, ds)
			}
		})
	}
}

// TestReadBOM: a UTF-8 byte-order mark at the start of a file is skipped.
func TestReadBOM(t *testing.T) {
	sum, _, ds, err := readString(t, "bom.json", "\xef\xbb\xbf"+wrapped+"\n"+wrapped+"\n", 0)
	if err != nil || len(ds) != 0 || sum.Malformed != 0 {
		t.Fatalf("err %v, diagnostics %v, malformed %d", err, ds, sum.Malformed)
	}
}

func TestReadMalformed(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantLine int
		wantMsg  string
	}{
		{"truncated ndjson line", wrapped + "\n" + wrapped[:50] + "\n" + wrapped + "\n", 2, "truncated JSON object"},
		{"garbage line", wrapped + "\nhello world\n" + wrapped + "\n", 2, "not JSON"},
		{"bad enum", wrapped + "\n" + strings.Replace(wrapped, "FORWARDED", "ALLOWED", 1) + "\n", 2, "invalid value for enum"},
		{"ui timestamp object", strings.Replace(wrapped, `"time":"2024-01-01T10:00:00Z","verdict"`, `"time":{"seconds":1},"verdict"`, 1) + "\n", 1, "invalid flow"},
		{"not a flow", `{"hello":"world"}` + "\n", 1, "not a Hubble flow or event (top-level keys: hello)"},
		{"unterminated pretty", "{\n \"flow\": {\n", 1, "unterminated JSON object"},
		{"syntax error inside", `{"flow":{"verdict" "FORWARDED"}}` + "\n", 1, "invalid flow"},
		{"pretty error line", "{\n \"flow\": {\n  \"verdict\": \"NOPE\"\n }\n}\n", 3, "line 3"},
		{"nested arrays", "[[" + wrapped + "]]\n", 1, "a JSON array inside the top-level array"},
		{"number in the array", "[" + wrapped + ",\n42]\n", 2, "a JSON value that is not an object in the top-level array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, ds, err := readString(t, "bad.json", tt.in, 0)
			if !errors.Is(err, ErrTooManyErrors) {
				t.Fatalf("err = %v, want ErrTooManyErrors", err)
			}
			if len(ds) != 1 || ds[0].Pos.Line != tt.wantLine && !strings.Contains(ds[0].Msg, "line") {
				t.Fatalf("diagnostics = %v, want one at line %d", ds, tt.wantLine)
			}
			if ds[0].Pos.File != "bad.json" || ds[0].Code != "ppc_ingest_error" {
				t.Errorf("diagnostic %v lacks file or code", ds[0])
			}
			if !strings.Contains(ds[0].Error(), tt.wantMsg) {
				t.Errorf("diagnostic %q does not mention %q", ds[0].Error(), tt.wantMsg)
			}
			// With a budget, the bad record is skipped and the rest is read.
			sum, _, ds, err := readString(t, "bad.json", tt.in, 5)
			if err != nil {
				t.Fatalf("with --max-errors: %v", err)
			}
			if sum.Malformed != 1 || ds.Count(ir.Warning) != 1 {
				t.Errorf("malformed = %d, diagnostics %v", sum.Malformed, ds)
			}
		})
	}
}

func TestReadGzipByMagic(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(wrapped + "\n" + wrapped + "\n"))
	zw.Close()
	dir := t.TempDir()
	p := filepath.Join(dir, "events-2025-07-26T17-35-12.598.log") // no .gz suffix: detected by magic
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "events.log"), []byte(wrapped+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ins, err := Expand([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	sum, ds, err := Read(context.Background(), ins, Options{}, func(*Record) error { n++; return nil })
	if err != nil || len(ds) > 0 {
		t.Fatalf("Read: %v %v", err, ds)
	}
	if n != 3 || sum.Files != 2 {
		t.Errorf("read %d flows from %d files, want 3 from 2", n, sum.Files)
	}
}

func TestReadStdin(t *testing.T) {
	var n int
	_, _, err := Read(context.Background(), []Input{{Name: "-"}}, Options{Stdin: strings.NewReader(wrapped + "\n")},
		func(r *Record) error {
			n++
			if r.Pos.File != "-" {
				t.Errorf("pos %v", r.Pos)
			}
			return nil
		})
	if err != nil || n != 1 {
		t.Fatalf("n=%d err=%v", n, err)
	}
}

// TestReadRealSamples reads every real capture in testdata/flows: each must
// decode completely, with the record counts PROVENANCE.md gives.
func TestReadRealSamples(t *testing.T) {
	want := map[string]int64{
		"hubble-otel-basic-sample-10-flows.json":                10,
		"hubble-otel-basic-sample-330-dns-flows.json":           330,
		"hubble-otel-basic-sample-348-http-flows.json":          348,
		"hubble-otel-basic-sample-5-dns-flows.json":             5,
		"hubble-otel-basic-sample-5-http-flows.json":            5,
		"hubble-otel-basic-sample-400-tcp-flows.json":           400,
		"hubble-otel-basic-sample-400-udp-flows.json":           400,
		"hubble-otel-basic-sample-400-l7-redirected-flows.json": 400,
		"hubble-otel-basic-sample-400-icmpv4-flows.json":        18,
		"policy-report-publisher-hubble.json":                   226,
		"policy-report-publisher-hubble2.json":                  218,
		"accuknox-flows-template-verbose.json":                  16,
		"cilium-docs-exporter-events-log.jsonl":                 2,
	}
	for name, n := range want {
		t.Run(name, func(t *testing.T) {
			ins := []Input{{Name: filepath.Join("..", "..", "testdata", "flows", name)}}
			sum, ds, err := Read(context.Background(), ins, Options{}, func(r *Record) error {
				if r.Flow == nil || r.Pos.Line == 0 {
					t.Fatalf("bad record %+v", r)
				}
				return nil
			})
			if err != nil || len(ds) > 0 {
				t.Fatalf("Read: %v\n%v", err, ds)
			}
			if sum.Flows != n {
				t.Errorf("flows = %d, want %d", sum.Flows, n)
			}
		})
	}
}

// readAll reads data with opts and renders everything Read reports —
// records (position, kind, the flow), summary, diagnostics, error — as
// text, for comparisons.
func readAll(t testing.TB, data []byte, opts Options) string {
	t.Helper()
	var b strings.Builder
	opts.MaxErrors = 1 << 20
	sum, ds, err := Read(context.Background(), []Input{{Name: "f.json", R: bytes.NewReader(data)}}, opts, func(r *Record) error {
		fmt.Fprintf(&b, "%v %v %v\n", r.Pos, r.Kind, protojson.Format(r.Flow))
		return nil
	})
	fmt.Fprintf(&b, "summary %+v\nerror %v\n", sum, err)
	for _, d := range ds {
		fmt.Fprintf(&b, "diag %v\n", d)
	}
	return b.String()
}

// lineModeInputs mix what NDJSON files hold with what line mode must hand
// back to the scanner: blank lines, CRI prefixes, several objects on a
// line, pretty objects, arrays opened mid-file, truncated lines, non-flow
// records, unknown fields, garbage, no final newline.
var lineModeInputs = []string{
	wrapped + "\n" + bare + "\n" + camel + "\n",
	wrapped + "\n\n  \n" + wrapped + "\r\n" + lost + "\n" + status + "\n" + agent + "\n" + wrapped,
	wrapped + "\n" + wrapped + wrapped + "\n" + wrapped + "\n",
	wrapped + "\n" + "2026-09-15T16:20:01.123Z stdout F " + wrapped + "\n" + "2026-09-15T16:20:01.123Z stderr P " + wrapped[:40] + "\n" + wrapped + "\n",
	wrapped + "\n[" + wrapped + ",\n" + wrapped + "\n" + "2026-09-15T16:20:01.123Z stdout F " + wrapped + "\n]\n" + wrapped + "\n",
	wrapped + "\n[" + wrapped + ",\n" + wrapped + "\n",
	wrapped + "\n" + wrapped[:100] + "\n" + wrapped + "\nnot json\n" + wrapped + "\n{\n \"flow\": {}\n}\n",
	wrapped + "\n" + strings.Replace(wrapped, `"verdict"`, `"bogus":1,"verdict"`, 1) + "\n" + strings.Replace(wrapped, `"verdict"`, `"bogus":1,"verdict"`, 1) + "\n",
	wrapped + "\n" + `{"log":"` + strings.ReplaceAll(wrapped, `"`, `\"`) + `\n","stream":"stdout"}` + "\n" + wrapped + "\n",
	wrapped + "\n" + wrapped[:len(wrapped)-1],
	"\n\n" + wrapped + "\n" + `{"node_name":"x","flow":{"verdict":"DROPPED"}}` + "\n" + `{"flow":null}` + "\n" + `{}` + "\n",
	// Lines longer than many blocks, the last one without a newline.
	wrapped + "\n" + long + "\n" + wrapped + "\n" + long,
	wrapped + "\n" + long + "\n" + long + "\n",
}

// long is a flow on a line of more than 5000 bytes.
var long = strings.Replace(wrapped, "{", "{"+strings.Repeat(" ", 5000), 1)

// sampleInputs returns real captures for the reader tests: NDJSON with
// several event kinds, exporter events, and (with gz) one gzip-compressed.
func sampleInputs(t *testing.T, gz bool) []string {
	t.Helper()
	var out []string
	for _, f := range []string{"hubble-otel-basic-sample-10-flows.json", "policy-report-publisher-hubble2.json", "cilium-docs-exporter-events-log.jsonl", "hubble-otel-basic-sample-400-tcp-flows.json"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "flows", f))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
		if gz && strings.Contains(f, "400-tcp") {
			var z bytes.Buffer
			w := gzip.NewWriter(&z)
			w.Write(b)
			w.Close()
			out = append(out, z.String())
		}
	}
	return out
}

// TestLineModeSameAsScanner: reading NDJSON line by line on every core
// reports exactly what the scanner alone reports, whatever the block size.
func TestLineModeSameAsScanner(t *testing.T) {
	inputs := lineModeInputs
	inputs = append(inputs, sampleInputs(t, false)...)
	for i, in := range inputs {
		want := readAll(t, []byte(in), Options{noLineMode: true})
		for _, bs := range []int{0, 1, 7, 300, 4096} {
			if got := readAll(t, []byte(in), Options{blockSize: bs}); got != want {
				t.Errorf("input %d, block size %d: line mode differs from the scanner:\n--- scanner\n%s\n--- line mode\n%s", i, bs, want, got)
			}
		}
	}
}

// TestFileSameAsScanner: a file read at positions by the decoders reads
// exactly as the scanner reads its bytes, and as a stream of them.
func TestFileSameAsScanner(t *testing.T) {
	inputs := lineModeInputs
	inputs = append(inputs, sampleInputs(t, true)...)
	dir := t.TempDir()
	for i, in := range inputs {
		path := filepath.Join(dir, "f.json")
		if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
			t.Fatal(err)
		}
		want := readAll(t, []byte(in), Options{noLineMode: true})
		for _, bs := range []int{0, 1, 7, 300} {
			for _, stream := range []bool{false, true} {
				got := readPath(t, path, Options{blockSize: bs, noPositional: stream})
				if got != want {
					t.Errorf("input %d, block size %d, stream %v: the file reads differently:\n--- scanner\n%s\n--- file\n%s", i, bs, stream, want, got)
				}
			}
		}
	}
}

// readPath is readAll of a file by name, reported as f.json.
func readPath(t testing.TB, path string, opts Options) string {
	t.Helper()
	var b strings.Builder
	opts.MaxErrors = 1 << 20
	sum, ds, err := Read(context.Background(), []Input{{Name: path}}, opts, func(r *Record) error {
		r.Pos.File = "f.json"
		fmt.Fprintf(&b, "%v %v %v\n", r.Pos, r.Kind, protojson.Format(r.Flow))
		return nil
	})
	fmt.Fprintf(&b, "summary %+v\nerror %v\n", sum, strings.ReplaceAll(fmt.Sprint(err), path, "f.json"))
	for _, d := range ds {
		d.Pos.File = "f.json"
		fmt.Fprintf(&b, "diag %v\n", d)
	}
	return b.String()
}

// TestFileTruncated: a file that shrinks while it is read ends reading
// with an error that says so.
func TestFileTruncated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.json")
	data := strings.Repeat(wrapped+"\n", 20000)
	for _, at := range []string{"start", "line mode"} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		opts := Options{afterOpen: func() { os.Truncate(path, 0) }}
		if at == "line mode" {
			// Truncate once the first flows were read.
			opts.afterOpen = nil
		}
		n := 0
		_, _, err := Read(context.Background(), []Input{{Name: path}}, opts, func(*Record) error {
			if n++; n == 10 && at == "line mode" {
				os.Truncate(path, 0)
			}
			return nil
		})
		if !errors.Is(err, errChanged) {
			t.Errorf("%s: truncating the file gave %v (after %d flows)", at, err, n)
		}
	}
}

// TestOpenPipeError: reading a stream that stays open (hubble observe
// --follow) ends as soon as an error ends it, in the scanner's phase and in
// line mode, without waiting for more input.
func TestOpenPipeError(t *testing.T) {
	for _, head := range []string{"", strings.Repeat(wrapped+"\n", 300)} {
		r, w := io.Pipe()
		go w.Write([]byte(head + "not json\n")) // and never closed
		done := make(chan error, 1)
		go func() {
			_, _, err := Read(context.Background(), []Input{{Name: "-", R: r}}, Options{blockSize: 64}, func(*Record) error { return nil })
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrTooManyErrors) {
				t.Errorf("%d bytes before the bad line: got %v", len(head), err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%d bytes before the bad line: reading did not end", len(head))
		}
		w.Close()
	}
}

// TestOpenPipeFlowsAndCancel: the flows of a stream that stays open reach
// the callback as they come (not when a block fills up), and cancelling
// the context ends reading while it waits for more.
func TestOpenPipeFlowsAndCancel(t *testing.T) {
	for _, n := range []int{3, 300} { // the scanner's phase; line mode
		r, w := io.Pipe()
		go w.Write([]byte(strings.Repeat(wrapped+"\n", n))) // and never closed
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		seen := 0
		go func() {
			_, _, err := Read(ctx, []Input{{Name: "-", R: r}}, Options{}, func(*Record) error {
				if seen++; seen == n {
					cancel()
				}
				return nil
			})
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) || seen != n {
				t.Errorf("%d flows: got %v after %d flows", n, err, seen)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%d flows: %d reached the callback; reading did not end", n, seen)
		}
		cancel()
		w.Close()
	}
}

// fill is an endless run of one byte.
type fill byte

func (f fill) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(f)
	}
	return len(b), nil
}

// TestRecordBound: a record larger than MaxRecordSize (a gzip bomb of
// spaces, /dev/zero, a file without newlines) ends reading with an error
// that names the input and line, in bounded memory — on the first line,
// after NDJSON lines in line mode, inside a pretty-printed object, and
// from a regular file.
func TestRecordBound(t *testing.T) {
	over := int64(MaxRecordSize + 1<<20)
	file := filepath.Join(t.TempDir(), "big.json")
	if err := os.WriteFile(file, append([]byte(wrapped+"\n"+wrapped+"\n"), bytes.Repeat([]byte("x"), int(over))...), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		in   Input
	}{
		{"spaces", Input{Name: "bomb", R: io.LimitReader(fill(' '), over)}},
		{"zeros", Input{Name: "zero", R: io.LimitReader(fill(0), over)}},
		{"after ndjson", Input{Name: "late", R: io.MultiReader(strings.NewReader(wrapped+"\n"+wrapped+"\n"), io.LimitReader(fill('x'), over))}},
		{"open object", Input{Name: "open", R: io.MultiReader(strings.NewReader("{\n \"flow\": {\n"), io.LimitReader(fill(' '), over))}},
		{"file", Input{Name: file}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Read(context.Background(), []Input{tt.in}, Options{MaxErrors: 1000}, func(*Record) error { return nil })
			if err == nil || !strings.Contains(err.Error(), "more than 64 MiB") || !strings.Contains(err.Error(), tt.in.Name) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	// Options.MaxRecordSize moves the bound, for streams and files alike.
	small := filepath.Join(t.TempDir(), "small.json")
	if err := os.WriteFile(small, append([]byte(wrapped+"\n"), bytes.Repeat([]byte(" "), 2<<20)...), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, in := range []Input{{Name: small}, {Name: "stream", R: io.LimitReader(fill(' '), 2<<20)}} {
		_, _, err := Read(context.Background(), []Input{in}, Options{MaxRecordSize: 1 << 20}, func(*Record) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "more than 1 MiB") || !strings.Contains(err.Error(), "--max-record-size") {
			t.Errorf("%s: err = %v", in.Name, err)
		}
	}
}

// TestClaim: every input read by name is shown to Options.Claim once, from
// its first byte (decompressed, for gzip); a claimed one is not read as
// flows nor counted, and the others are read whole after Claim looked at
// them (a regular file, a gzip file, stdin, a gzip stream).
func TestClaim(t *testing.T) {
	dir := t.TempDir()
	gz := func(s string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(s))
		zw.Close()
		return b.Bytes()
	}
	ir := `{"ir_version": 1, "nodes": {}}`
	files := map[string][]byte{
		"a.json":        []byte(wrapped + "\n"),
		"b.json.gz":     gz(wrapped + "\n" + wrapped + "\n"),
		"claimed.ir":    []byte(ir),
		"claimed.ir.gz": gz(ir),
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ins := []Input{{Name: filepath.Join(dir, "a.json")}, {Name: filepath.Join(dir, "claimed.ir")}, {Name: filepath.Join(dir, "b.json.gz")}, {Name: filepath.Join(dir, "claimed.ir.gz")}, {Name: "-"}}
	seen := map[string]string{}
	claim := func(name string, head []byte, r io.Reader) (bool, error) {
		seen[filepath.Base(name)] = string(head[:min(len(head), 12)])
		if !strings.HasPrefix(string(head), `{"ir_version"`) {
			return false, nil // not claimed: r is left unread
		}
		all, err := io.ReadAll(r)
		if err != nil || string(all) != ir {
			t.Errorf("%s: claimed input read as %q (%v)", name, all, err)
		}
		return true, nil
	}
	var n int
	sum, ds, err := Read(context.Background(), ins, Options{Stdin: strings.NewReader(wrapped + "\n"), Claim: claim}, func(*Record) error { n++; return nil })
	if err != nil || len(ds) > 0 {
		t.Fatalf("Read: %v %v", err, ds)
	}
	if n != 4 || sum.Files != 3 {
		t.Errorf("read %d flows from %d inputs, want 4 from 3 (the claimed one not counted)", n, sum.Files)
	}
	want := map[string]string{"a.json": `{"flow":{"ti`, "claimed.ir": `{"ir_version`, "b.json.gz": `{"flow":{"ti`, "claimed.ir.gz": `{"ir_version`, "-": `{"flow":{"ti`}
	for k, v := range want {
		if seen[k] != v {
			t.Errorf("Claim saw %q for %s, want %q", seen[k], k, v)
		}
	}
	// A gzip stream: shown decompressed; claimed, read decompressed; not
	// claimed, read as flows.
	for _, c := range []struct {
		in    string
		flows int
	}{{ir, 0}, {wrapped + "\n" + wrapped + "\n", 2}} {
		clear(seen)
		n = 0
		_, ds, err := Read(context.Background(), []Input{{Name: "-"}}, Options{Stdin: bytes.NewReader(gz(c.in)), Claim: claim}, func(*Record) error { n++; return nil })
		if err != nil || len(ds) > 0 || n != c.flows || seen["-"] != c.in[:12] {
			t.Errorf("gzip stream %.12q: %d flows (want %d), Claim saw %q, %v %v", c.in, n, c.flows, seen["-"], err, ds)
		}
	}
	boom := errors.New("boom")
	_, _, err = Read(context.Background(), ins[:1], Options{Claim: func(string, []byte, io.Reader) (bool, error) { return true, boom }}, func(*Record) error { return nil })
	if !errors.Is(err, boom) {
		t.Errorf("Claim's error = %v, want boom", err)
	}
}

// TestReadPrepared: each fast-path flow is prepared on a decoding
// goroutine and its typed result reaches fn in input order with a nil
// Flow; a record protojson decoded comes with its Flow and P's zero value.
func TestReadPrepared(t *testing.T) {
	type prep struct{ port uint32 }
	var lines []string
	for i := 0; i < 500; i++ {
		lines = append(lines, strings.Replace(wrapped, "40000", fmt.Sprint(40000+i), 1))
	}
	// protojson only: a field the fast path does not know.
	lines = append(lines, strings.Replace(wrapped, `"node_name":"n1"`, `"node_name":"n1","future_field":1`, 1))
	p := filepath.Join(t.TempDir(), "flows.json")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	newPrepare := func() func(*flowpb.Flow) *prep {
		return func(f *flowpb.Flow) *prep { return &prep{f.GetL4().GetTCP().GetSourcePort()} }
	}
	var got []uint32
	var slow int
	_, _, err := ReadPrepared(context.Background(), []Input{{Name: p}}, Options{}, newPrepare, func(r *Record, x *prep) error {
		switch {
		case x != nil && r.Flow == nil:
			got = append(got, x.port)
		case x == nil && r.Flow != nil:
			slow++
		default:
			t.Errorf("line %d: prepared %v with flow %v", r.Pos.Line, x, r.Flow != nil)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 500 || slow != 1 {
		t.Fatalf("%d prepared, %d not, want 500 and 1", len(got), slow)
	}
	for i, port := range got {
		if port != uint32(40000+i) {
			t.Fatalf("record %d prepared from port %d: out of order", i, port)
		}
	}
}
