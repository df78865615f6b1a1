package lint_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/compiler/verify"
	"github.com/policypilot/ppc/internal/testutil"
	"github.com/policypilot/ppc/lint"
)

// TestPrecisionCorpus lints every set of testdata/lint/corpus as ppc lint
// does (verification, read findings, the default pack; with the set's
// flows.json, the view of its workloads) and holds the findings to the
// set's expected.txt: an unexpected finding (a false deny is the worst
// kind) or a missing expected one fails. See the corpus README.
func TestPrecisionCorpus(t *testing.T) {
	root := filepath.Join(testutil.Testdata(), "lint", "corpus")
	sets, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range sets {
		if !s.IsDir() {
			continue
		}
		n++
		dir := filepath.Join(root, s.Name())
		t.Run(s.Name(), func(t *testing.T) {
			if exists(filepath.Join(dir, "agent.json")) && os.Getenv("PPC_CORPUS_SET") != s.Name() {
				// Cilium's agent settings are process-wide: a set meant
				// for other flags is linted in a process of its own.
				cmd := exec.Command(os.Args[0], "-test.run=^TestPrecisionCorpus$/^"+s.Name()+"$", "-test.count=1")
				cmd.Env = append(os.Environ(), "PPC_CORPUS_SET="+s.Name())
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("%v\n%s", err, out)
				}
				return
			}
			got := lintSet(t, dir)
			want := readExpected(t, filepath.Join(dir, "expected.txt"))
			if os.Getenv("PPC_UPDATE") != "" && !equal(got, want) {
				t.Logf("findings (PPC_UPDATE does not rewrite a corpus: each expected finding needs its reason):\n%s", strings.Join(got, "\n"))
			}
			for _, g := range got {
				if !contains(want, g) {
					t.Errorf("unexpected finding: %s", g)
				}
			}
			for _, w := range want {
				if !contains(got, w) {
					t.Errorf("expected finding missing: %s", w)
				}
			}
		})
	}
	if n < 8 {
		t.Errorf("only %d sets in the corpus", n)
	}
}

// lintSet lints the policies of dir and returns its findings as
// "SEVERITY RULE FILE:LINE POLICY", files relative to dir.
func lintSet(t *testing.T, dir string) []string {
	t.Helper()
	ctx := context.Background()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range entries {
		switch n := e.Name(); {
		case n == "expected.txt" || n == "flows.json" || n == "agent.json" || e.IsDir():
		default:
			paths = append(paths, filepath.Join(dir, n))
		}
	}
	objs, bad, _, err := manifest.ReadPaths(paths, nil)
	if err != nil {
		t.Fatal(err)
	}
	settings := agent.Defaults()
	// agent.json: the agent flags the set is meant for.
	if b, err := os.ReadFile(filepath.Join(dir, "agent.json")); err == nil {
		var flags struct {
			EnableNodeSelectorLabels bool `json:"enableNodeSelectorLabels"`
		}
		if err := json.Unmarshal(b, &flags); err != nil {
			t.Fatalf("agent.json: %v", err)
		}
		settings.EnableNodeSelectorLabels = flags.EnableNodeSelectorLabels
	}
	v, err := verify.New(verify.Options{Agent: settings})
	if err != nil {
		t.Fatal(err)
	}
	opts := lint.Options{Verifier: v, Namespace: "default"}
	if flows := filepath.Join(dir, "flows.json"); exists(flows) {
		res, err := compiler.Compile(ctx, []string{flows}, compiler.Options{Agent: settings, InferCluster: true, StopAfter: compiler.StageNormalize})
		if err != nil || res.Diagnostics.HasErrors() {
			t.Fatalf("flows: %v %v", err, res.Diagnostics)
		}
		opts.Select = func(rs []verify.Result) (*lint.View, error) { return compiler.LintView(res.Graph, rs, res.Agent) }
	}
	l, err := lint.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := l.Lint(ctx, objs)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range append(lint.ReadFindings(bad), rep.Findings...) {
		rel, err := filepath.Rel(dir, f.File)
		if err != nil {
			rel = f.File
		}
		out = append(out, fmt.Sprintf("%s %s %s:%d %s", strings.ToUpper(string(f.Severity)), f.Rule, filepath.ToSlash(rel), f.Line, f.Policy))
	}
	sort.Strings(out)
	return out
}

func readExpected(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func equal(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }
