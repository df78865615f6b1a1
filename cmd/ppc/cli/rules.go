package cli

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/policypilot/ppc/reports"
	"github.com/policypilot/ppc/reports/rulesreport"
	"github.com/policypilot/ppc/rules"
	"github.com/policypilot/ppc/rules/packtool"
)

type rulesParams struct {
	run      string
	coverage bool
	verbose  bool
	format   string
	write    bool
	dir      string
	defaults bool
	bound    boundFlags
}

func init() {
	register(&command{
		name:  "rules",
		usage: "test|list|fmt|check|new [flags] [DIR|BUNDLE ...]",
		short: "rule-pack tooling: test, list, format, check and scaffold packs",
		long: `Works on rule packs — compile packs (--rules of ppc compile) and lint packs
(--rules of ppc lint) — as directories or OPA bundle tarballs, with the
embedded default packs included, compiled with the restricted capabilities
packs run with (no network, files, clock or randomness).

  ppc rules test DIR...   run the packs' *_test.rego tests with OPA's tester;
                          --coverage prints line coverage of the packs;
                          --run REGEX selects tests; --defaults also runs
                          the default packs' tests
  ppc rules list [DIR...] every rule with id, stage, severity and source
                          file:line, the default packs included (-o json)
  ppc rules fmt DIR...    list files OPA's formatter would change (exit 1);
                          -w rewrites them
  ppc rules check DIR...  compile the packs (type check); errors keep
                          file:line:col
  ppc rules new NAME      scaffold a lint pack with a working rule, its tests
                          and a config.yaml (in ./NAME, or --dir DIR)

Exit status: 0 ok, 1 a test failed or a file needs formatting, 2 usage or
compile error.`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			p := &rulesParams{}
			fs.StringVar(&p.run, "run", "", "test: run only tests whose name matches `REGEX`")
			fs.BoolVar(&p.coverage, "coverage", false, "test: print line coverage of the packs")
			fs.BoolVar(&p.defaults, "defaults", false, "test: also run the default packs' tests")
			fs.BoolVarP(&p.verbose, "verbose", "v", false, "test: list every test, not only failures")
			fs.StringVarP(&p.format, "output", "o", "text", "test, list: text or json")
			fs.BoolVarP(&p.write, "write", "w", false, "fmt: rewrite files in place")
			fs.StringVar(&p.dir, "dir", "", "new: the directory to create (default ./NAME)")
			p.bound.register(fs, "one test")
			return func(ctx context.Context, e *env, args []string) error { return runRules(ctx, e, p, args) }
		},
	})
}

func runRules(ctx context.Context, e *env, p *rulesParams, args []string) error {
	if len(args) == 0 {
		return usageErr("which tool? test, list, fmt, check or new (usage: ppc rules test DIR...)")
	}
	if err := rulesreport.TestFormats.Check(p.format); err != nil {
		return usageErr("%v", err)
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "test":
		if len(rest) == 0 && !p.defaults {
			return usageErr("ppc rules test: give pack directories or bundles (or --defaults)")
		}
		packs, err := rules.LoadDirs(rest)
		if err != nil {
			return &exitError{code: exitFailure, err: err}
		}
		bounds, err := p.bound.bounds()
		if err != nil {
			return err
		}
		results, cov, err := packtool.Test(ctx, packs, p.defaults, p.run, bounds)
		if ctx.Err() != nil {
			return ctx.Err() // interrupted: nothing counted, nothing printed
		}
		if err != nil {
			return &exitError{code: exitFailure, err: err}
		}
		run := &rulesreport.TestRun{Results: results}
		if p.coverage {
			run.Coverage = cov
		}
		if err := rulesreport.TestFormats.Write(e.stdout, p.format, run, reports.Options{Cwd: e.cwd, Verbose: p.verbose}); err != nil {
			return err
		}
		if len(results) == 0 {
			return &exitError{code: exitFailure, err: fmt.Errorf("no tests found (test rules are named test_* in *_test.rego files)")}
		}
		if run.Failed() > 0 {
			return &exitError{code: exitFailed, printed: true}
		}
		return nil
	case "list":
		packs, err := rules.LoadDirs(rest)
		if err != nil {
			return &exitError{code: exitFailure, err: err}
		}
		entries, err := packtool.List(packs)
		if err != nil {
			return &exitError{code: exitFailure, err: err}
		}
		return rulesreport.ListFormats.Write(e.stdout, p.format, entries, reports.Options{Cwd: e.cwd})
	case "fmt":
		if len(rest) == 0 {
			return usageErr("ppc rules fmt: give pack directories or files")
		}
		changed, err := packtool.Fmt(rest, p.write)
		if err != nil {
			return &exitError{code: exitFailure, err: err}
		}
		for _, f := range changed {
			fmt.Fprintln(e.stdout, reports.RelPath(f, e.cwd))
		}
		if len(changed) > 0 && !p.write {
			fmt.Fprintf(e.stderr, "ppc rules fmt: %d files need formatting (ppc rules fmt -w rewrites them)\n", len(changed))
			return &exitError{code: exitFailed, printed: true}
		}
		return nil
	case "check":
		if len(rest) == 0 {
			return usageErr("ppc rules check: give pack directories or bundles")
		}
		packs, err := rules.LoadDirs(rest)
		if err != nil {
			return &exitError{code: exitFailure, err: err}
		}
		if err := packtool.Check(packs); err != nil {
			return &exitError{code: exitFailure, err: err}
		}
		fmt.Fprintf(e.stderr, "ppc rules check: %d packs compile\n", len(packs))
		return nil
	case "new":
		if len(rest) != 1 {
			return usageErr("ppc rules new NAME: give one pack name")
		}
		dir := p.dir
		if dir == "" {
			dir = rest[0]
		}
		files, err := packtool.Scaffold(dir, rest[0])
		if err != nil {
			return &exitError{code: exitFailure, err: err}
		}
		for _, f := range files {
			fmt.Fprintf(e.stderr, "ppc rules new: wrote %s\n", f)
		}
		fmt.Fprintf(e.stderr, "next: ppc rules test %s && ppc lint --rules %s POLICY_PATH\n", dir, dir)
		return nil
	}
	return usageErr("unknown tool %q: want test, list, fmt, check or new", sub)
}
