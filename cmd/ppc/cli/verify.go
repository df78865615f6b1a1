package cli

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/compiler/verify"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/reports"
	"github.com/policypilot/ppc/reports/verifyreport"
	"github.com/policypilot/ppc/schemas"
)

type verifyParams struct {
	agent     agentFlags
	namespace string
	schemas   []string
	format    string
	verbose   bool
}

func init() {
	register(&command{
		name:  "verify",
		usage: "[flags] POLICY_PATH|- ...",
		short: "check CiliumNetworkPolicies as the API server and the Cilium agent would",
		long: `Checks every CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and
Kubernetes NetworkPolicy in the
given files, directories (recursively: *.yaml, *.yml, *.json) or stdin ("-"),
multi-document YAML and List objects included, with Kubernetes' and Cilium's
own code, and reports every problem with its file, document, policy, layer
and data path:

  schema  the API server would reject it (kubectl apply fails);
  agent   the API server accepts it, but the Cilium agent rejects it and
          does NOT enforce it: the dangerous class, nothing tells you;
  org     a constraint of an organisation CUE schema (--schemas).

Objects of other kinds are counted and skipped. An object without
metadata.namespace is checked in the namespace -n names, as kubectl apply
would send it. The agent checks use Cilium's default agent settings unless
a flag below says otherwise.

Exit status: 0 every policy is valid, 1 some policy is invalid, 2 usage
error, unreadable input or no policy found.`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			p := &verifyParams{}
			fs.StringVarP(&p.namespace, "namespace", "n", "default", "namespace of objects that name none (as kubectl apply -n)")
			fs.StringArrayVar(&p.schemas, "schemas", nil, "also check policies against the CUE #Policy in `DIR` (repeatable)")
			fs.StringVarP(&p.format, "output", "o", "text", "output format: text or json")
			fs.BoolVarP(&p.verbose, "verbose", "v", false, "list valid policies too")
			p.agent.register(fs)
			p.agent.fs = fs
			return func(ctx context.Context, e *env, args []string) error { return runVerify(ctx, e, p, args) }
		},
	})
}

func runVerify(ctx context.Context, e *env, p *verifyParams, args []string) error {
	if len(args) == 0 {
		return usageErr("no input: give policy files, directories or - for stdin (usage: ppc verify POLICY_PATH...)")
	}
	if err := verifyreport.Formats.Check(p.format); err != nil {
		return usageErr("%v", err)
	}
	settings, err := p.agent.settings()
	if err != nil {
		return usageErr("%v", err)
	}
	org, err := schemas.LoadOrgs(p.schemas)
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	objs, inputErrs, files, err := readManifests(e, args)
	if err != nil {
		return err
	}
	v, err := verify.New(verify.Options{Agent: settings, Org: org})
	if err != nil {
		return err
	}
	rep := v.Manifests(ctx, objs, p.namespace)
	if p.format == "text" {
		reports.PrintDiagnostics(e.stderr, inputErrs, e.cwd)
		reports.PrintDiagnostics(e.stderr, rep.Warnings, e.cwd)
	}
	res := &verifyreport.Result{Report: rep, InputErrors: inputErrs, Files: files}
	if err := verifyreport.Formats.Write(e.stdout, p.format, res, reports.Options{Cwd: e.cwd, Verbose: p.verbose}); err != nil {
		return err
	}
	if p.format == "text" {
		verifyreport.Summary(e.stderr, rep, files)
	}
	switch {
	case len(inputErrs) > 0:
		return &exitError{code: exitFailure, printed: p.format == "text", err: fmt.Errorf("%d documents could not be read", len(inputErrs))}
	case len(rep.Results) == 0:
		return &exitError{code: exitFailure, err: fmt.Errorf("no CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy found in %d files", files)}
	case rep.Invalid() > 0:
		return &exitError{code: exitFailed, printed: true}
	}
	return nil
}

// readManifests expands and reads the policy arguments of verify, lint
// and replay: the objects, the documents that could not be read, and the
// number of files.
func readManifests(e *env, args []string) ([]manifest.Object, ir.Diagnostics, int, error) {
	objs, bad, files, err := manifest.ReadPaths(args, e.stdin)
	if err != nil {
		return nil, nil, 0, &exitError{code: exitFailure, err: err}
	}
	return objs, bad, files, nil
}

// learnGraph learns flows (and IR snapshots) into a normalised graph for
// a command that reads policies against it (lint --flows, trace, reach),
// and returns it with the agent settings to use: the cluster name taken
// from the flows unless --cluster-name is given. Without flows it returns
// no graph and settings as they are. What the reader reports is printed.
func learnGraph(ctx context.Context, e *env, flows []string, settings agent.Settings, af *agentFlags) (*ir.Graph, agent.Settings, error) {
	if len(flows) == 0 {
		return nil, settings, nil
	}
	res, err := compiler.Compile(ctx, flows, compiler.Options{Learn: compiler.LearnOptions{Stdin: e.stdin}, Agent: settings, InferCluster: !af.clusterSet(), StopAfter: compiler.StageNormalize})
	reports.PrintDiagnostics(e.stderr, res.Diagnostics, e.cwd)
	if err != nil {
		return nil, settings, compileError(err)
	}
	if res.Diagnostics.HasErrors() {
		return nil, settings, &exitError{code: exitFailure, printed: true}
	}
	return res.Graph, res.Agent, nil
}

// verifySet reads the policies of args and verifies them as the API
// server and the agent would; a document that cannot be read, or a set
// without a policy, is an error.
func verifySet(ctx context.Context, e *env, args []string, settings agent.Settings, namespace string) (*verify.Report, error) {
	objs, bad, files, err := readManifests(e, args)
	if err != nil {
		return nil, err
	}
	reports.PrintDiagnostics(e.stderr, bad, e.cwd)
	if len(bad) > 0 {
		return nil, &exitError{code: exitFailure, err: fmt.Errorf("%d policy documents could not be read", len(bad))}
	}
	v, err := verify.New(verify.Options{Agent: settings})
	if err != nil {
		return nil, err
	}
	vrep := v.Manifests(ctx, objs, namespace)
	if len(vrep.Results) == 0 {
		return nil, &exitError{code: exitFailure, err: fmt.Errorf("no CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy found in %d files", files)}
	}
	return vrep, nil
}
