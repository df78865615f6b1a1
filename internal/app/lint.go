package app

import (
	"context"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/compiler/verify"
	"github.com/policypilot/ppc/lint"
	"github.com/policypilot/ppc/reports"
	"github.com/policypilot/ppc/reports/lintreport"
	"github.com/policypilot/ppc/rules"
	"github.com/policypilot/ppc/schemas"
)

// Lint is what ppc lint is asked to do: gate policies with lint packs.
type Lint struct {
	Policies  []string
	Packs     []string // lint pack directories or bundles
	NoDefault bool     // leave out the embedded best-practice pack
	Bounds    rules.Bounds
	Agent     agent.Settings
	// InferCluster takes the cluster name from Flows' cluster labels.
	InferCluster bool
	Schemas      []string
	Namespace    string   // of objects that name none
	Flows        []string // judge the workloads of these flows with the policies that select them
	Format       string   // lintreport.Formats
	WarnFails    bool     // warn findings fail too, not only deny
	Color        bool
	Version      string // ppc's, for SARIF
}

// Run lints and writes the report; a finding at the failing severity
// is ErrFailed.
func (l *Lint) Run(ctx context.Context, o IO) error {
	packs, err := rules.LoadDirs(l.Packs)
	if err != nil {
		return err
	}
	org, err := schemas.LoadOrgs(l.Schemas)
	if err != nil {
		return err
	}
	v, err := verify.New(verify.Options{Agent: l.Agent, Org: org})
	if err != nil {
		return err
	}
	opts := lint.Options{Packs: packs, NoDefault: l.NoDefault, Verifier: v, Namespace: l.Namespace, Timeout: l.Bounds.Timeout, Memory: l.Bounds.Memory}
	g, flowSettings, err := learnGraph(ctx, o, l.Flows, l.Agent, l.InferCluster)
	if err != nil {
		return err
	}
	if g != nil {
		opts.Select = func(rs []verify.Result) (*lint.View, error) { return compiler.LintView(g, rs, flowSettings) }
	}
	linter, err := lint.New(ctx, opts)
	if err != nil {
		return err
	}
	objs, inputErrs, files, err := manifest.ReadPaths(l.Policies, o.Stdin)
	if err != nil {
		return err
	}
	rep, err := linter.Lint(ctx, objs)
	if err != nil {
		return err
	}
	rep.Files = files
	// A document that cannot be read is a finding on its file; the rest
	// of the set is still verified, linted and reported.
	rep.Findings = append(lint.ReadFindings(inputErrs), rep.Findings...)
	if rep.Policies == 0 && len(inputErrs) == 0 {
		return noPolicy(files)
	}
	if err := lintreport.Formats.Write(o.Stdout, l.Format, rep, reports.Options{Color: l.Color, Cwd: o.Cwd, Version: l.Version}); err != nil {
		return err
	}
	failing := rep.Count(lint.Deny)
	if l.WarnFails {
		failing += rep.Count(lint.Warn)
	}
	if failing > 0 {
		return ErrFailed
	}
	return nil
}
