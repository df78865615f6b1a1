package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/policypilot/ppc/internal/testutil"
)

// TestInterrupted: a command whose context ends (Ctrl-C) stops, writes
// nothing and exits 130, whatever stage it is in.
func TestInterrupted(t *testing.T) {
	flows := filepath.Join(testutil.Testdata(), "flows", "hubble-otel-basic-sample-400-tcp-flows.json")
	for _, args := range [][]string{
		{"compile", flows, "-o", "OUT"},
		{"compile", flows, "-o", "OUT", "--report", "OUT.html"},
		{"learn", flows, "-o", "OUT"},
		{"replay", "--flows", flows, filepath.Join(testutil.Testdata(), "flows")},
	} {
		dir := t.TempDir()
		for i, a := range args {
			args[i] = strings.ReplaceAll(a, "OUT", filepath.Join(dir, "out"))
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var stdout, stderr bytes.Buffer
		code := MainContext(ctx, args, strings.NewReader(""), &stdout, &stderr)
		if code != exitInterrupted || !strings.Contains(stderr.String(), "interrupted") {
			t.Errorf("ppc %s: exit %d, stderr %q", strings.Join(args, " "), code, stderr.String())
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("ppc %s wrote %d files", strings.Join(args, " "), len(entries))
		}
	}
}

// TestRulesTestInterrupted: Ctrl-C during `ppc rules test` exits 130
// without printing results: the test it stopped is not a failure.
func TestRulesTestInterrupted(t *testing.T) {
	dir := t.TempDir()
	slow := `package ppc.lint.s_test

test_slow if {
	every i in numbers.range(1, 20000) {
		every j in numbers.range(1, 20000) {
			i * j > 0
		}
	}
}
`
	if err := os.WriteFile(filepath.Join(dir, "s_test.rego"), []byte(slow), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := MainContext(ctx, []string{"rules", "test", dir}, strings.NewReader(""), &stdout, &stderr)
	if code != exitInterrupted || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("results printed after the interruption: %q", stdout.String())
	}
}
