package app

import (
	"context"
	"fmt"

	"github.com/policypilot/ppc/reports"
	"github.com/policypilot/ppc/reports/rulesreport"
	"github.com/policypilot/ppc/rules"
	"github.com/policypilot/ppc/rules/packtool"
)

// Rules is what ppc rules is asked to do: one of the rule-pack tools
// (rules/packtool) on packs.
type Rules struct {
	Tool     string   // test, list, fmt, check or new
	Args     []string // pack directories, bundles or files; new: the pack's name
	Match    string   // test: only tests matching this regular expression
	Coverage bool     // test: print line coverage
	Defaults bool     // test: also run the embedded packs' tests
	Verbose  bool     // test: list every test
	Format   string   // test, list: rulesreport formats
	Write    bool     // fmt: rewrite files in place
	Dir      string   // new: the directory to create (default: the name)
	Bounds   rules.Bounds
}

// Run runs the tool: a failing test or a file that needs formatting is
// ErrFailed.
func (r *Rules) Run(ctx context.Context, o IO) error {
	switch r.Tool {
	case "test":
		return r.test(ctx, o)
	case "list":
		packs, err := rules.LoadDirs(r.Args)
		if err != nil {
			return err
		}
		entries, err := packtool.List(packs)
		if err != nil {
			return err
		}
		return rulesreport.ListFormats.Write(o.Stdout, r.Format, entries, reports.Options{Cwd: o.Cwd})
	case "fmt":
		if len(r.Args) == 0 {
			return Usage("ppc rules fmt: give pack directories or files")
		}
		changed, err := packtool.Fmt(r.Args, r.Write)
		if err != nil {
			return err
		}
		for _, f := range changed {
			fmt.Fprintln(o.Stdout, reports.RelPath(f, o.Cwd))
		}
		if len(changed) > 0 && !r.Write {
			fmt.Fprintf(o.Stderr, "ppc rules fmt: %d files need formatting (ppc rules fmt -w rewrites them)\n", len(changed))
			return ErrFailed
		}
		return nil
	case "check":
		if len(r.Args) == 0 {
			return Usage("ppc rules check: give pack directories or bundles")
		}
		packs, err := rules.LoadDirs(r.Args)
		if err != nil {
			return err
		}
		if err := packtool.Check(packs); err != nil {
			return err
		}
		fmt.Fprintf(o.Stderr, "ppc rules check: %d packs compile\n", len(packs))
		return nil
	case "new":
		if len(r.Args) != 1 {
			return Usage("ppc rules new NAME: give one pack name")
		}
		dir := r.Dir
		if dir == "" {
			dir = r.Args[0]
		}
		files, err := packtool.Scaffold(dir, r.Args[0])
		if err != nil {
			return err
		}
		for _, f := range files {
			fmt.Fprintf(o.Stderr, "ppc rules new: wrote %s\n", f)
		}
		fmt.Fprintf(o.Stderr, "next: ppc rules test %s && ppc lint --rules %s POLICY_PATH\n", dir, dir)
		return nil
	}
	return Usage("unknown tool %q: want test, list, fmt, check or new", r.Tool)
}

// test runs the packs' tests with OPA's tester.
func (r *Rules) test(ctx context.Context, o IO) error {
	if len(r.Args) == 0 && !r.Defaults {
		return Usage("ppc rules test: give pack directories or bundles (or --defaults)")
	}
	packs, err := rules.LoadDirs(r.Args)
	if err != nil {
		return err
	}
	results, cov, err := packtool.Test(ctx, packs, r.Defaults, r.Match, r.Bounds)
	if ctx.Err() != nil {
		return ctx.Err() // interrupted: nothing counted, nothing printed
	}
	if err != nil {
		return err
	}
	run := &rulesreport.TestRun{Results: results}
	if r.Coverage {
		run.Coverage = cov
	}
	if err := rulesreport.TestFormats.Write(o.Stdout, r.Format, run, reports.Options{Cwd: o.Cwd, Verbose: r.Verbose}); err != nil {
		return err
	}
	if len(results) == 0 {
		return fmt.Errorf("no tests found (test rules are named test_* in *_test.rego files)")
	}
	if run.Failed() > 0 {
		return ErrFailed
	}
	return nil
}
