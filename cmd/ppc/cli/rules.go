package cli

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/policypilot/ppc/internal/app"
	"github.com/policypilot/ppc/reports/rulesreport"
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
		setup: func(fs *pflag.FlagSet) func(context.Context, app.IO, []string) error {
			p := &rulesParams{}
			fs.StringVar(&p.run, "run", "", "test: run only tests whose name matches `REGEX`")
			fs.BoolVar(&p.coverage, "coverage", false, "test: print line coverage of the packs")
			fs.BoolVar(&p.defaults, "defaults", false, "test: also run the default packs' tests")
			fs.BoolVarP(&p.verbose, "verbose", "v", false, "test: list every test, not only failures")
			fs.StringVarP(&p.format, "output", "o", "text", "test, list: text or json")
			fs.BoolVarP(&p.write, "write", "w", false, "fmt: rewrite files in place")
			fs.StringVar(&p.dir, "dir", "", "new: the directory to create (default ./NAME)")
			p.bound.register(fs, "one test")
			return func(ctx context.Context, o app.IO, args []string) error { return runRules(ctx, o, p, args) }
		},
	})
}

func runRules(ctx context.Context, o app.IO, p *rulesParams, args []string) error {
	if len(args) == 0 {
		return usageErr("which tool? test, list, fmt, check or new (usage: ppc rules test DIR...)")
	}
	if err := rulesreport.TestFormats.Check(p.format); err != nil {
		return usageErr("%v", err)
	}
	bounds, err := p.bound.bounds()
	if err != nil {
		return err
	}
	r := &app.Rules{Tool: args[0], Args: args[1:], Match: p.run, Coverage: p.coverage, Defaults: p.defaults, Verbose: p.verbose,
		Format: p.format, Write: p.write, Dir: p.dir, Bounds: bounds}
	return r.Run(ctx, o)
}
