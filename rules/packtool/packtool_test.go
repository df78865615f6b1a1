package packtool

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/internal/testutil"
	"github.com/policypilot/ppc/lint"
	"github.com/policypilot/ppc/rules"
)

func loadPack(t testing.TB, dir string) *rules.Pack {
	t.Helper()
	p, err := rules.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEmbeddedPacksFormatted: the packs ppc ships are as OPA's formatter
// writes them.
func TestEmbeddedPacksFormatted(t *testing.T) {
	root := filepath.Join(testutil.Testdata(), "..")
	changed, err := Fmt([]string{filepath.Join(root, "rules", "packs"), filepath.Join(root, "lint", "packs"), filepath.Join(root, "testdata", "lint"), filepath.Join(root, "testdata", "rules")}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) > 0 {
		t.Errorf("not formatted (ppc rules fmt -w): %v", changed)
	}
}

func TestRegoTests(t *testing.T) {
	org := loadPack(t, filepath.Join(testutil.Testdata(), "lint", "org-team"))
	res, cov, err := Test(context.Background(), []*rules.Pack{org}, false, "", rules.Bounds{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || !res[0].Pass || !res[1].Pass {
		t.Fatalf("results %+v", res)
	}
	if cov.Percent != 100 || len(cov.Files) != 1 {
		t.Errorf("coverage %+v", cov)
	}
	// A failing test fails, with its location.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x_test.rego"), []byte("package ppc.lint.x_test\n\ntest_wrong if {\n\t1 == 2\n}\n"), 0o644)
	res, _, err = Test(context.Background(), []*rules.Pack{loadPack(t, dir)}, false, "", rules.Bounds{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Pass || !strings.HasSuffix(res[0].Location, "x_test.rego:3") {
		t.Errorf("failing test: %+v", res)
	}
}

func TestCheck(t *testing.T) {
	for name, src := range map[string]string{
		"type error":      "package ppc.lint.bad\n\ndeny contains msg if {\n\tmsg := concat(\",\", 1)\n}\n",
		"network builtin": "package ppc.lint.bad\n\ndeny contains msg if {\n\tr := http.send({\"method\": \"get\", \"url\": \"http://x\"})\n\tmsg := r.body\n}\n",
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "bad.rego"), []byte(src), 0o644)
		err := Check([]*rules.Pack{loadPack(t, dir)})
		if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "bad.rego")+":4:") {
			t.Errorf("%s: error %v lacks file:line:col", name, err)
		}
	}
	if err := Check([]*rules.Pack{loadPack(t, filepath.Join(testutil.Testdata(), "lint", "org-team"))}); err != nil {
		t.Error(err)
	}
}

func TestList(t *testing.T) {
	es, err := List([]*rules.Pack{loadPack(t, filepath.Join(testutil.Testdata(), "lint", "org-team"))})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Entry{}
	for _, e := range es {
		got[e.ID] = e
	}
	if e := got["CIL001"]; e.Stage != "lint" || e.Severity != "deny" || !strings.HasPrefix(e.Source, "cilium/world_all_ports.rego:") || e.Title == "" {
		t.Errorf("CIL001 %+v", e)
	}
	if e := got["ORG001"]; e.Pack != "org-team" || e.Severity != "deny" {
		t.Errorf("ORG001 %+v", e)
	}
	if e := got["ppc.gate.deny"]; e.Stage != "gate" || e.Severity != "deny" {
		t.Errorf("gate %+v", e)
	}
	if es[0].Stage != "lint" {
		t.Errorf("lint rules are not listed first: %+v", es[0])
	}
}

// TestScaffold: a new pack works as it is: its tests pass and it lints.
func TestScaffold(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "acme")
	if _, err := Scaffold(dir, "acme"); err != nil {
		t.Fatal(err)
	}
	p := loadPack(t, dir)
	res, _, err := Test(context.Background(), []*rules.Pack{p}, false, "", rules.Bounds{})
	if err != nil || len(res) != 2 || !res[0].Pass || !res[1].Pass {
		t.Fatalf("scaffold tests: %v %+v", err, res)
	}
	l, err := lint.New(context.Background(), lint.Options{Packs: []*rules.Pack{p}, Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	objs, ds := manifest.Parse("p.yaml", []byte("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: web, namespace: shop}\nspec:\n  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {app: x}}]\n"))
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	rep, err := l.Lint(context.Background(), objs)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range rep.Findings {
		found = found || f.Rule == "ACM001"
	}
	if !found {
		t.Errorf("the scaffolded rule did not fire: %+v", rep.Findings)
	}
	if _, err := Scaffold(dir, "acme"); err == nil {
		t.Error("scaffolding over an existing directory must fail")
	}
	if _, err := Scaffold(filepath.Join(t.TempDir(), "x"), "Bad-Name"); err == nil {
		t.Error("a bad pack name must fail")
	}
}

// TestFmtNeverWritesThroughLinks: rules fmt -w formats the pack's own
// files and refuses to rewrite a link, whose target may lie outside it.
func TestFmtNeverWritesThroughLinks(t *testing.T) {
	root := t.TempDir()
	pack := filepath.Join(root, "pack")
	if err := os.MkdirAll(pack, 0o755); err != nil {
		t.Fatal(err)
	}
	ugly := "package   ppc.lint.x\ndeny contains  \"m\" if input.kind\n"
	outside := filepath.Join(root, "outside.rego")
	for _, f := range []string{filepath.Join(pack, "a.rego"), outside} {
		if err := os.WriteFile(f, []byte(ugly), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(pack, "link.rego")); err != nil {
		t.Fatal(err)
	}
	_, err := Fmt([]string{pack}, true)
	if err == nil || !strings.Contains(err.Error(), "link.rego is a symbolic link") {
		t.Errorf("err = %v", err)
	}
	if b, _ := os.ReadFile(outside); string(b) != ugly {
		t.Errorf("the file outside the pack was rewritten")
	}
	if b, _ := os.ReadFile(filepath.Join(pack, "a.rego")); string(b) == ugly {
		t.Errorf("the pack's own file was not formatted")
	}
}

// TestDefaultPacksRegoTests runs the Rego tests of both embedded packs
// (what `ppc rules test --defaults` runs): every one passes, and they
// cover each default module.
func TestDefaultPacksRegoTests(t *testing.T) {
	res, cov, err := Test(context.Background(), nil, true, "", rules.Bounds{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) < 60 {
		t.Errorf("only %d tests in the default packs", len(res))
	}
	for _, r := range res {
		if !r.Pass {
			t.Errorf("%s %s.%s: %s", r.Location, r.Package, r.Name, r.Message)
		}
	}
	for f, c := range cov.Files {
		if c < 85 {
			t.Errorf("%s: %.1f%% of its lines covered by the default packs' tests, want >= 85%%", f, c)
		}
	}
	if len(cov.Files) < 14 {
		t.Errorf("coverage of %d modules: %v", len(cov.Files), cov.Files)
	}
}
