// Package packtool is the rule-pack tooling behind `ppc rules`: testing
// packs with OPA's tester and measuring coverage, listing every rule,
// formatting, compile checks and scaffolding a new pack. It works on
// compile packs (package rules) and lint packs (package lint) alike, with
// the embedded default packs layered underneath as compile and lint layer
// them.
package packtool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/format"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/policypilot/ppc/internal/atomicfile"
	"github.com/policypilot/ppc/lint"
	"github.com/policypilot/ppc/rules"
)

// allModules layers packs over the default compile pack (stage
// replacement as compile does) and adds the default lint pack: every
// module a pack's tests may refer to.
func allModules(packs []*rules.Pack, withTests bool) ([]rules.Module, map[string]any, error) {
	def, err := rules.DefaultPack()
	if err != nil {
		return nil, nil, err
	}
	mods, cfg, err := rules.Layer(def, packs, withTests)
	if err != nil {
		return nil, nil, err
	}
	lmods, err := lint.Modules(nil, false, withTests)
	if err != nil {
		return nil, nil, err
	}
	lcfg, err := lint.Config(nil, false)
	if err != nil {
		return nil, nil, err
	}
	rules.MergeConfig(lcfg, cfg)
	for _, p := range packs {
		rules.MergeConfig(lcfg, p.Config)
	}
	return append(mods, lmods...), lcfg, nil
}

// Check compiles the default packs with packs under the restricted
// capabilities, tests included; errors keep file:line:col.
func Check(packs []*rules.Pack) error {
	mods, _, err := allModules(packs, true)
	if err != nil {
		return err
	}
	c := ast.NewCompiler().WithCapabilities(lint.Capabilities()).WithDefaultRegoVersion(ast.RegoV1).WithEnablePrintStatements(true)
	c.Compile(moduleMap(mods))
	if c.Failed() {
		return rules.CompileError(c.Errors)
	}
	return nil
}

func moduleMap(mods []rules.Module) map[string]*ast.Module {
	m := map[string]*ast.Module{}
	for _, x := range mods {
		m[x.Path] = x.Module
	}
	return m
}

// splitLocation splits "file:line".
func splitLocation(loc string) (string, int) {
	i := strings.LastIndexByte(loc, ':')
	if i < 0 {
		return loc, 0
	}
	n, _ := strconv.Atoi(loc[i+1:])
	return loc[:i], n
}

// isCancel reports whether err is OPA's cancellation (a timeout).
func isCancel(err error) bool {
	var te *topdown.Error
	return errors.As(err, &te) && te.Code == topdown.CancelErr || errors.Is(err, context.DeadlineExceeded)
}

// testerBuiltins are the builtins lint and compile evaluations register,
// for OPA's tester.
func testerBuiltins() []*tester.Builtin {
	var bs []*tester.Builtin
	for _, b := range lint.Builtins() {
		bs = append(bs, &tester.Builtin{Decl: b.Decl, Func: b.Register})
	}
	return bs
}

// TestResult is one Rego test's outcome.
type TestResult struct {
	Name     string        `json:"name"`
	Package  string        `json:"package"`
	Location string        `json:"location"`
	Pass     bool          `json:"pass"`
	Skipped  bool          `json:"skipped,omitempty"`
	Message  string        `json:"message,omitempty"`
	Duration time.Duration `json:"duration"`
	Output   string        `json:"output,omitempty"`
}

// Coverage is the line coverage of the packs' modules by their tests.
type Coverage struct {
	Percent float64            `json:"percent"`
	Files   map[string]float64 `json:"files"`
}

// Test runs the *_test.rego tests of packs (and of the default packs when
// defaults is set) with OPA's tester, and measures coverage of the packs'
// modules.
//
// Each test runs within bounds (its timeout, and the heap bound over the
// whole run): a test that passes the heap bound ends the run with an
// error naming it; an interruption of ctx returns ctx's error and no
// results.
func Test(ctx context.Context, packs []*rules.Pack, defaults bool, filter string, bounds rules.Bounds) ([]TestResult, *Coverage, error) {
	bounds = bounds.WithDefaults()
	mods, cfg, err := allModules(packs, true)
	if err != nil {
		return nil, nil, err
	}
	if !defaults {
		// Keep the default modules (tests may use them) but only the
		// packs' tests.
		mine := map[string]bool{}
		for _, p := range packs {
			for _, m := range p.Modules {
				mine[m.Path] = true
			}
		}
		kept := mods[:0]
		for _, m := range mods {
			if !m.Test || mine[m.Path] {
				kept = append(kept, m)
			}
		}
		mods = kept
	}
	modules := moduleMap(mods)
	store := inmem.NewFromObjectWithOpts(map[string]any{"ppc": map[string]any{"config": cfg}}, inmem.OptRoundTripOnWrite(true))
	cov := cover.New()
	compiler := ast.NewCompiler().WithCapabilities(lint.Capabilities()).WithDefaultRegoVersion(ast.RegoV1).WithEnablePrintStatements(true)
	r := tester.NewRunner().
		SetCompiler(compiler).
		SetStore(store).
		SetDefaultRegoVersion(ast.RegoV1).
		AddCustomBuiltins(testerBuiltins()).
		SetCoverageQueryTracer(cov).
		CapturePrintOutput(true).
		RaiseBuiltinErrors(true).
		SetTimeout(bounds.Timeout).
		SetModules(modules).
		Filter(filter)
	parent := ctx
	ctx, overMemory, stop := rules.WatchMemory(ctx, bounds.Memory)
	defer stop()
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer store.Abort(ctx, txn)
	ch, err := r.RunTests(ctx, txn)
	if err != nil {
		if perr := parent.Err(); perr != nil {
			return nil, nil, perr
		}
		return nil, nil, rules.CompileError(err)
	}
	var out []TestResult
	var heapErr error
	for res := range ch {
		if heapErr != nil || parent.Err() != nil {
			continue // drain: the run is over
		}
		tr := TestResult{Name: res.Name, Package: strings.TrimPrefix(res.Package, "data."), Pass: res.Pass(), Skipped: res.Skip, Duration: res.Duration, Output: string(res.Output)}
		if res.Location != nil {
			tr.Location = fmt.Sprintf("%s:%d", res.Location.File, res.Location.Row)
		}
		switch {
		case res.Error != nil && overMemory():
			heapErr = fmt.Errorf("test %s.%s (%s) used more than %d MiB of memory: look for a rule that builds a huge collection, or raise the bound with --rule-memory", tr.Package, tr.Name, tr.Location, bounds.Memory>>20)
			continue
		case res.Error != nil && isCancel(res.Error):
			tr.Message = fmt.Sprintf("did not finish within %s: look for a rule that iterates more than it needs, or raise the bound with --rule-timeout", bounds.Timeout)
		case res.Error != nil:
			tr.Message = res.Error.Error()
		case res.Fail:
			tr.Message = "fail"
		}
		out = append(out, tr)
	}
	if err := parent.Err(); err != nil {
		return nil, nil, err // interrupted: no result counts
	}
	if heapErr != nil {
		return nil, nil, heapErr
	}
	// By file, then line number (not as strings: line 13 after line 7).
	sort.SliceStable(out, func(i, j int) bool {
		fi, li := splitLocation(out[i].Location)
		fj, lj := splitLocation(out[j].Location)
		if fi != fj {
			return fi < fj
		}
		return li < lj
	})
	// Coverage of the packs' own (non-test) modules, or of everything.
	covered := map[string]*ast.Module{}
	for _, m := range mods {
		if m.Test {
			continue
		}
		if defaults || isPackModule(packs, m.Path) {
			covered[m.Path] = m.Module
		}
	}
	rep := cov.Report(covered)
	c := &Coverage{Percent: rep.Coverage, Files: map[string]float64{}}
	for f, fr := range rep.Files {
		if covered[f] != nil {
			c.Files[f] = fr.Coverage
		}
	}
	return out, c, nil
}

func isPackModule(packs []*rules.Pack, path string) bool {
	for _, p := range packs {
		for _, m := range p.Modules {
			if m.Path == path {
				return true
			}
		}
	}
	return false
}

// Entry is one rule of `ppc rules list`.
type Entry struct {
	ID       string `json:"id"`
	Stage    string `json:"stage"`
	Severity string `json:"severity,omitempty"`
	Title    string `json:"title,omitempty"`
	Source   string `json:"source"`
	Pack     string `json:"pack"`
}

// List lists every rule of the default packs and packs: the compile
// packs' rules by stage (identity, synth, gate, hooks, ext, …) and the
// lint rules with their ids and severities.
func List(packs []*rules.Pack) ([]Entry, error) {
	mods, _, err := allModules(packs, false)
	if err != nil {
		return nil, err
	}
	packOf := map[string]string{}
	def, _ := rules.DefaultPack()
	ldef, _ := lint.DefaultPack()
	for _, p := range append([]*rules.Pack{def, ldef}, packs...) {
		for _, m := range p.Modules {
			packOf[m.Path] = p.Name
		}
	}
	var out []Entry
	for _, r := range lint.Describe(mods, packOf) {
		out = append(out, Entry{ID: r.ID, Stage: "lint", Severity: string(r.Severity), Title: r.Title, Source: fmt.Sprintf("%s:%d", r.File, r.Line), Pack: r.Pack})
	}
	seen := map[string]bool{}
	for _, m := range mods {
		pkg := m.Package()
		if strings.HasPrefix(pkg, "ppc.lint.") || !strings.HasPrefix(pkg, "ppc.") {
			continue
		}
		stage := strings.TrimPrefix(pkg, "ppc.")
		for _, r := range m.Module.Rules {
			name := r.Head.Name.String()
			if name == "" && len(r.Head.Reference) > 0 {
				name = strings.Trim(r.Head.Reference[0].String(), `"`)
			}
			id := pkg + "." + name
			if seen[id] {
				continue
			}
			seen[id] = true
			e := Entry{ID: id, Stage: stage, Source: fmt.Sprintf("%s:%d", m.Path, r.Location.Row), Pack: packOf[m.Path]}
			if pkg == "ppc.gate" && (name == "deny" || name == "warn") {
				e.Severity = name
			}
			out = append(out, e)
		}
	}
	// Lint rules first, then the compile stages in pipeline order.
	order := map[string]int{"lint": 0, "identity": 1, "synth": 2, "gate": 3, "hooks": 4, "lib": 6}
	rank := func(s string) int {
		if r, ok := order[s]; ok {
			return r
		}
		return 5
	}
	sort.SliceStable(out, func(i, j int) bool {
		if rank(out[i].Stage) != rank(out[j].Stage) {
			return rank(out[i].Stage) < rank(out[j].Stage)
		}
		if out[i].Stage != out[j].Stage {
			return out[i].Stage < out[j].Stage
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Fmt formats the .rego files under paths with OPA's formatter. With
// write it rewrites files that change and returns their names; without,
// it returns the names of files that are not formatted.
func Fmt(paths []string, write bool) ([]string, error) {
	var files []string
	for _, p := range paths {
		err := filepath.WalkDir(p, func(f string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && f != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(f, ".rego") {
				files = append(files, f)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(files)
	var changed []string
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out, err := format.SourceWithOpts(f, src, format.Opts{RegoVersion: ast.RegoV1, ParserOptions: &ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true}})
		if err != nil {
			return nil, rules.CompileError(err)
		}
		if string(out) == string(src) {
			continue
		}
		changed = append(changed, f)
		if write {
			fi, err := os.Lstat(f)
			if err != nil {
				return nil, err
			}
			if fi.Mode()&os.ModeSymlink != 0 {
				// Never write through a link: its target may lie outside
				// the pack.
				return changed, fmt.Errorf("%s is a symbolic link: not rewritten (format the file it points to)", f)
			}
			if err := atomicfile.Write(f, out); err != nil {
				return nil, err
			}
			if err := os.Chmod(f, fi.Mode().Perm()); err != nil {
				return nil, err
			}
		}
	}
	return changed, nil
}

var packName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Scaffold writes a new organisation lint pack into dir: a working rule
// with METADATA, its tests and a config.yaml with an example exception.
func Scaffold(dir, name string) ([]string, error) {
	if !packName.MatchString(name) {
		return nil, fmt.Errorf("pack name %q: use lower-case letters, digits and _ (a Rego package segment)", name)
	}
	if _, err := os.Stat(dir); err == nil {
		return nil, fmt.Errorf("%s exists; choose a new directory", dir)
	}
	files := map[string]string{
		name + ".rego": fmt.Sprintf(`# METADATA
# title: every policy names its owning team
# description: >-
#   Replace this with why the rule exists: reviewers read it in ppc rules
#   list, in SARIF results and in GitHub code scanning.
# custom:
#   id: %[2]s001
#   severity: deny
package ppc.lint.%[1]s.team_label

deny contains {"msg": "metadata.labels.team is missing", "path": ["metadata", "labels"]} if {
	not input.metadata.labels.team
}
`, name, strings.ToUpper(name[:min(3, len(name))])),
		name + "_test.rego": fmt.Sprintf(`package ppc.lint.%[1]s.team_label_test

import data.ppc.lint.%[1]s.team_label

test_missing_team_is_denied if {
	count(team_label.deny) == 1 with input as {"kind": "CiliumNetworkPolicy", "metadata": {"name": "x"}}
}

test_team_label_passes if {
	count(team_label.deny) == 0 with input as {"kind": "CiliumNetworkPolicy", "metadata": {"name": "x", "labels": {"team": "payments"}}}
}
`, name),
		"config.yaml": `# Settings of this pack, merged into data.ppc.config.
lint:
  # Findings of a rule on matching policies are reported as excepted.
  exceptions: []
  #  - rule: CIL002
  #    policies: ["monitoring/*"]
  #    reason: "namespace-wide scrape policy, reviewed"
`,
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var out []string
	for _, f := range []string{name + ".rego", name + "_test.rego", "config.yaml"} {
		p := filepath.Join(dir, f)
		if err := os.WriteFile(p, []byte(files[f]), 0o644); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
