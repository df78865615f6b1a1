package app

import (
	"context"
	"fmt"

	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/compiler/verify"
	"github.com/policypilot/ppc/reports"
	"github.com/policypilot/ppc/reports/verifyreport"
	"github.com/policypilot/ppc/schemas"
)

// Verify is what ppc verify is asked to do: check policies as the API
// server and the Cilium agent would.
type Verify struct {
	Policies  []string // files, directories, "-"
	Agent     agent.Settings
	Schemas   []string // organisation CUE schema directories
	Namespace string   // of objects that name none
	Format    string   // verifyreport.Formats
	Verbose   bool
}

// Run verifies and writes the report; an invalid policy is ErrFailed.
func (v *Verify) Run(ctx context.Context, o IO) error {
	org, err := schemas.LoadOrgs(v.Schemas)
	if err != nil {
		return err
	}
	objs, inputErrs, files, err := manifest.ReadPaths(v.Policies, o.Stdin)
	if err != nil {
		return err
	}
	ver, err := verify.New(verify.Options{Agent: v.Agent, Org: org})
	if err != nil {
		return err
	}
	rep := ver.Manifests(ctx, objs, v.Namespace)
	text := v.Format == "text"
	if text {
		reports.PrintDiagnostics(o.Stderr, inputErrs, o.Cwd)
		reports.PrintDiagnostics(o.Stderr, rep.Warnings, o.Cwd)
	}
	res := &verifyreport.Result{Report: rep, InputErrors: inputErrs, Files: files}
	if err := verifyreport.Formats.Write(o.Stdout, v.Format, res, reports.Options{Cwd: o.Cwd, Verbose: v.Verbose}); err != nil {
		return err
	}
	if text {
		verifyreport.Summary(o.Stderr, rep, files)
	}
	switch {
	case len(inputErrs) > 0 && text:
		return ErrReported
	case len(inputErrs) > 0:
		return fmt.Errorf("%d documents could not be read", len(inputErrs))
	case len(rep.Results) == 0:
		return noPolicy(files)
	case rep.Invalid() > 0:
		return ErrFailed
	}
	return nil
}
