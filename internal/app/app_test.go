package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/hubble"
	"github.com/policypilot/ppc/internal/hubbletest"
	"github.com/policypilot/ppc/internal/testutil"
)

func testIO() (IO, *testutil.SyncBuffer, *testutil.SyncBuffer) {
	var stdout, stderr testutil.SyncBuffer
	return IO{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Cwd: "/"}, &stdout, &stderr
}

const tcpFlows = "hubble-otel-basic-sample-400-tcp-flows.json"

func flowsFile(name string) string { return filepath.Join(testutil.Testdata(), "flows", name) }

// compileTo compiles the TCP sample into dir with the library API, as
// ppc compile -o dir does.
func compileTo(t *testing.T, dir string) {
	t.Helper()
	o, _, stderr := testIO()
	c := &Compile{Inputs: []string{flowsFile(tcpFlows)}, Output: dir, Quiet: true,
		Options: compiler.Options{Agent: agent.Defaults(), InferCluster: true}}
	if err := c.Run(context.Background(), o); err != nil {
		t.Fatalf("compile: %v\n%s", err, stderr)
	}
}

// TestOutcomes: each command, called as a library, ends with the error
// that says how it ended: nil, ErrFailed (the output failed a check or
// an expectation; exit 1) or an error (exit 2); and a failed compile
// writes nothing.
func TestOutcomes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	policies := filepath.Join(dir, "policies")
	compileTo(t, policies)
	other := filepath.Join(dir, "other.yaml")
	if err := os.WriteFile(other, []byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	invalid := filepath.Join(dir, "invalid.yaml")
	if err := os.WriteFile(invalid, []byte(`apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: port
spec:
  endpointSelector: {}
  ingress:
  - toPorts:
    - ports:
      - port: "99999"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	flows := Flows{Paths: []string{flowsFile(tcpFlows)}, Agent: agent.Defaults(), InferCluster: true, PolicyNamespace: "default"}
	notWritten := filepath.Join(dir, "not-written")
	for _, tc := range []struct {
		name string
		run  interface {
			Run(context.Context, IO) error
		}
		want   error  // ErrFailed, ErrReported or nil
		errHas string // otherwise: the error says this
		stderr string
	}{
		{name: "verify valid", run: &Verify{Policies: []string{policies}, Agent: agent.Defaults(), Namespace: "default", Format: "text"}},
		{name: "verify invalid", run: &Verify{Policies: []string{invalid}, Agent: agent.Defaults(), Namespace: "default", Format: "text"}, want: ErrFailed},
		{name: "verify no policy", run: &Verify{Policies: []string{other}, Agent: agent.Defaults(), Namespace: "default", Format: "json"}, errHas: "no CiliumNetworkPolicy"},
		{name: "replay observed", run: &Replay{Flows: flows, Policies: []string{policies}, Format: "text"}},
		{name: "replay expect denied", run: &Replay{Flows: flows, Policies: []string{policies}, ExpectDenied: true, Format: "text"}, want: ErrFailed},
		{name: "replay invalid only", run: &Replay{Flows: flows, Policies: []string{invalid}, Format: "text"}, want: ErrFailed},
		{name: "diff same", run: &Diff{Old: policies, New: policies, Format: "text"}},
		{name: "diff differs", run: &Diff{Old: policies, New: invalid, Format: "text"}, want: ErrFailed},
		{name: "compile lint deny", run: &Compile{Inputs: []string{flowsFile(tcpFlows)}, Output: notWritten, Quiet: true,
			Options: compiler.Options{Agent: agent.Defaults(), InferCluster: true, Lint: &compiler.LintOptions{Packs: []string{filepath.Join(testutil.Testdata(), "lint", "org-team")}}}},
			want: ErrFailed, stderr: "lint deny findings; nothing written"},
		{name: "compile unreadable", run: &Compile{Inputs: []string{filepath.Join(dir, "missing.json")}, Quiet: true, Options: compiler.Options{Agent: agent.Defaults()}}, errHas: "missing.json"},
		{name: "trace allowed", run: &Trace{Policies: Policies{Paths: []string{policies}, Namespace: "default", Agent: agent.Defaults(), InferCluster: true},
			FlowFile: flowsFile(tcpFlows), FlowLine: 1, Format: "text"}},
		{name: "trace bad endpoint", run: &Trace{Policies: Policies{Paths: []string{policies}, Namespace: "default", Agent: agent.Defaults()},
			From: "no/such", To: "world", Proto: "TCP", Port: 80, Format: "text"}, errHas: "--from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, _, stderr := testIO()
			err := tc.run.Run(ctx, o)
			switch {
			case tc.errHas != "":
				if err == nil || errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), tc.errHas) {
					t.Errorf("got %v, want an error saying %q", err, tc.errHas)
				}
			case !errors.Is(err, tc.want) || (tc.want == nil && err != nil):
				t.Errorf("got %v, want %v\n%s", err, tc.want, stderr)
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, stderr)
			}
		})
	}
	if _, err := os.Stat(notWritten); !os.IsNotExist(err) {
		t.Errorf("a compile that failed its lint gate wrote %s (%v)", notWritten, err)
	}
}

// TestCompileFollowLintGate: a round of compile --follow whose policies
// fail the lint gate leaves the directory as it was and says why; Ctrl-C
// ends the command with ErrStopped.
func TestCompileFollowLintGate(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rs, err := hubbletest.Load(flowsFile(tcpFlows))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := hubbletest.Start(ctx, rs, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	c := &Compile{Output: out, Every: 50 * time.Millisecond, Options: compiler.Options{
		Learn: compiler.LearnOptions{Hubble: &hubble.Options{Server: srv.Addr}}, Agent: agent.Defaults(), InferCluster: true,
		Lint: &compiler.LintOptions{Packs: []string{filepath.Join(testutil.Testdata(), "lint", "org-team")}}}}
	o, _, stderr := testIO()
	fctx, interrupt := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(fctx, o) }()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stderr.String(), "round 1: "); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no round 1 in:\n%s", stderr)
		}
	}
	interrupt()
	if err := <-done; !errors.Is(err, ErrStopped) {
		t.Fatalf("after Ctrl-C: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr.String(), "ppc compile: round 1: 6 lint deny findings; "+out+" left as it was") {
		t.Errorf("the round does not say why the directory was left:\n%s", stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a round that failed its lint gate wrote %s (%v)", out, err)
	}
}
