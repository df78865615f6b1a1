package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/policypilot/ppc/internal/hubbletest"
	"github.com/policypilot/ppc/internal/testutil"
)

// readTree maps each file under dir to its content.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			out[rel] = string(b)
		}
		return nil
	})
	return out
}

// serveCapture serves the bookinfo L7 sample capture until ctx ends and
// returns its path and the server.
func serveCapture(t *testing.T, ctx context.Context) (string, *hubbletest.Server) {
	t.Helper()
	capture := filepath.Join(testutil.Testdata(), "flows", "hubble-otel-basic-sample-400-l7-redirected-flows.json")
	rs, err := hubbletest.Load(capture)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := hubbletest.Start(ctx, rs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return capture, srv
}

// TestCompileFromHubble: policies compiled from a Hubble server serving a
// capture are byte-identical to those compiled from the capture on disk,
// for compile, and for learn's snapshot compiled again; -n is asked of the
// server.
func TestCompileFromHubble(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	capture, srv := serveCapture(t, ctx)
	dir := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := MainContext(ctx, args, strings.NewReader(""), &stdout, &stderr); code != 0 {
			t.Fatalf("ppc %s: exit %d\n%s", strings.Join(args, " "), code, stderr.String())
		}
		return stderr.String()
	}
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	run("compile", "-q", "--hubble-server", srv.Addr, "-o", a)
	run("compile", "-q", capture, "-o", b)
	ta, tb := readTree(t, a), readTree(t, b)
	if len(ta) < 3 {
		t.Fatalf("only %d files from the server", len(ta))
	}
	for f, c := range tb {
		if ta[f] != c {
			t.Errorf("%s differs between the server and the file", f)
		}
	}
	if len(ta) != len(tb) {
		t.Errorf("%d files from the server, %d from the file", len(ta), len(tb))
	}

	// replay and explain read the server too.
	if out := run("replay", "--hubble-server", srv.Addr, a); !strings.Contains(out, "every flow is allowed") {
		t.Errorf("replay from the server: %s", out)
	}
	run("explain", "--hubble-server", srv.Addr, "-o", filepath.Join(dir, "r.md"))
	if b, err := os.ReadFile(filepath.Join(dir, "r.md")); err != nil || !strings.Contains(string(b), "productpage") {
		t.Errorf("explain from the server: %v", err)
	}

	snap, c := filepath.Join(dir, "snap.json"), filepath.Join(dir, "c")
	run("learn", "-q", "--hubble-server", srv.Addr, "-o", snap)
	run("compile", "-q", snap, "-o", c)
	if tc := readTree(t, c); len(tc) != len(tb) || tc["bookinfo/productpage.yaml"] != tb["bookinfo/productpage.yaml"] {
		t.Errorf("the snapshot learned from the server compiles to other policies")
	}

	// $HUBBLE_SERVER is the server when no input is given, as for hubble.
	t.Setenv("HUBBLE_SERVER", srv.Addr)
	run("compile", "-q", "-o", filepath.Join(dir, "e"))
	if te := readTree(t, filepath.Join(dir, "e")); len(te) != len(tb) {
		t.Errorf("HUBBLE_SERVER: %d files", len(te))
	}
	n := len(srv.Requests())
	run("compile", "-q", capture, "-o", filepath.Join(dir, "f"))
	if len(srv.Requests()) != n {
		t.Error("HUBBLE_SERVER added a live source to a compile of files")
	}

	run("compile", "-q", "--hubble-server", srv.Addr, "-n", "bookinfo", "--last", "50", "-o", filepath.Join(dir, "d"))
	reqs := srv.Requests()
	last := reqs[len(reqs)-1]
	if last.Number != 50 || len(last.Whitelist) != 2 || last.Whitelist[0].SourcePod[0] != "bookinfo/" {
		t.Errorf("request %v", last)
	}
}

func TestHubbleFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"compile", "--last", "5", "x.json"}, "need --hubble-server"},
		{[]string{"compile", "--hubble-server", "127.0.0.1:1", "--first", "1", "--last", "1"}, "exclude each other"},
		{[]string{"learn", "--hubble-server", "127.0.0.1:1", "--since", "yesterday"}, "--since \"yesterday\""},
		{[]string{"learn", "--hubble-server", "127.0.0.1:1", "--tls", "--tls-client-cert-file", "c.pem"}, "--tls-client-cert-file and --tls-client-key-file go together"},
	} {
		var stdout, stderr bytes.Buffer
		code := MainContext(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr)
		if code != exitFailure || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("ppc %s: exit %d, %q", strings.Join(tc.args, " "), code, stderr.String())
		}
	}
}

// TestLearnFollow: learn --follow rewrites its snapshot every round; Ctrl-C
// writes it once more and exits 0, and the snapshot compiles to the
// policies the capture compiles to.
func TestLearnFollow(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	capture, srv := serveCapture(t, ctx)
	srv.Add(hubbletest.LostEvents(12, time.Now().Add(-time.Minute))) // the ring buffer overflowed once
	srv.SetStatus(hubbletest.Unavailable("kind-worker"))             // and Relay cannot reach one node
	dir := t.TempDir()
	snap := filepath.Join(dir, "snap.json")
	lctx, interrupt := context.WithCancel(ctx)
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		done <- MainContext(lctx, []string{"learn", "--hubble-server", srv.Addr, "--follow", "--snapshot-every", "100ms", "-o", snap}, strings.NewReader(""), &bytes.Buffer{}, &stderr)
	}()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(snap); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no snapshot written")
		}
	}
	interrupt() // Ctrl-C
	if code := <-done; code != 0 {
		t.Fatalf("learn --follow after Ctrl-C: exit %d\n%s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if !strings.Contains(stderr.String(), "snapshot 1:") || !strings.Contains(lines[len(lines)-1], "Hubble reported lost events 1 times") {
		t.Errorf("no progress line, or lost events not reported: %s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "warning: flows from ") || !strings.Contains(stderr.String(), "are missing: 1 nodes did not answer Hubble Relay (kind-worker)") || !strings.Contains(lines[len(lines)-1], "gaps in what the server could give") {
		t.Errorf("the unreachable node is not reported: %s", stderr.String())
	}
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, args := range [][]string{{"compile", "-q", snap, "-o", a}, {"compile", "-q", capture, "-o", b}} {
		if code := MainContext(ctx, args, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
			t.Fatalf("ppc %s: exit %d", strings.Join(args, " "), code)
		}
	}
	ta, tb := readTree(t, a), readTree(t, b)
	if len(ta) != len(tb) || ta["bookinfo/productpage.yaml"] != tb["bookinfo/productpage.yaml"] {
		t.Errorf("the followed snapshot compiles to other policies (%d files, %d)", len(ta), len(tb))
	}
	var usage bytes.Buffer
	if code := MainContext(ctx, []string{"learn", "--follow", "-o", snap}, strings.NewReader(""), &bytes.Buffer{}, &usage); code != exitFailure || !strings.Contains(usage.String(), "--follow needs --hubble-server") {
		t.Errorf("--follow without a server: exit %d %s", code, usage.String())
	}
}

// TestCompileFollow: compile --follow writes the directory after the first
// round, leaves it alone while nothing changes, rewrites it when a new
// connection arrives, and exits 0 on Ctrl-C.
func TestCompileFollow(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, srv := serveCapture(t, ctx)
	out := filepath.Join(t.TempDir(), "out")
	fctx, interrupt := context.WithCancel(ctx)
	done := make(chan int, 1)
	var stderr testutil.SyncBuffer
	go func() {
		done <- MainContext(fctx, []string{"compile", "--hubble-server", srv.Addr, "--follow", "--every", "100ms", "-o", out}, strings.NewReader(""), &bytes.Buffer{}, &stderr)
	}()
	waitFor := func(what string, n int) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); strings.Count(stderr.String(), what) < n; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in:\n%s", what, stderr.String())
			}
		}
	}
	waitFor("round 1: ", 1)
	waitFor("no change", 1)
	before := readTree(t, out)
	// A new connection: details is called on a port never seen before.
	rs, _ := hubbletest.Load(filepath.Join(testutil.Testdata(), "flows", "hubble-otel-basic-sample-400-tcp-flows.json"))
	srv.Add(hubbletest.Retimed(rs, time.Now())...)
	waitFor("files written", 2)
	interrupt()
	if code := <-done; code != 0 {
		t.Fatalf("compile --follow after Ctrl-C: exit %d\n%s", code, stderr.String())
	}
	after := readTree(t, out)
	changed := 0
	for f, c := range after {
		if before[f] != c {
			changed++
		}
	}
	if changed == 0 {
		t.Errorf("the new traffic changed no file:\n%s", stderr.String())
	}
}
