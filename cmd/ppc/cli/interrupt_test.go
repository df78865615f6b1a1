package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
