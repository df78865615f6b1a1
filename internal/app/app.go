// Package app runs ppc's commands as library calls: each takes a typed
// request (what the command line asked for, its flags already parsed and
// checked), drives the compiler stages and the reports, prints diagnostics
// and reports to the given streams, and returns an error that says how the
// command ended (ErrFailed, ErrReported, ErrStopped, a *UsageError, or any
// other error: the input could not be read or an internal error).
//
// It is the layer above compiler and reports: cmd/ppc/cli parses flags and
// calls it, and a program that embeds ppc can call it the same way.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/compiler/verify"
	"github.com/policypilot/ppc/internal/atomicfile"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/reports"
)

// IO is what a command reads and writes: its standard streams and the
// directory paths in messages are shown relative to.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Cwd            string
}

var (
	// ErrFailed means the command ran and its output failed a check, a
	// gate or an expectation (exit status 1); why has been printed.
	ErrFailed = errors.New("the output failed a check")
	// ErrReported means the command could not run and why has been
	// printed already (exit status 2).
	ErrReported = errors.New("failed; the reasons are printed above")
	// ErrStopped is what a command that runs until interrupted returns
	// when Ctrl-C ended it as it should: it wrote what it had (exit 0).
	ErrStopped = errors.New("stopped")
)

// UsageError is a request the command cannot carry out as given (exit
// status 2, with a pointer to the command's usage).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usage returns a *UsageError with the formatted message.
func Usage(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// writeFile writes b atomically to path ("" or "-": stdout).
func writeFile(o IO, path string, b []byte) error {
	if path == "" || path == "-" {
		_, err := o.Stdout.Write(b)
		return err
	}
	return atomicfile.Write(path, b)
}

// learnGraph learns flows (and IR snapshots) into a normalised graph for
// a command that reads policies against it (lint --flows, trace, reach),
// and returns it with the agent settings to use: the cluster name taken
// from the flows when inferCluster is set. Without flows it returns no
// graph and settings as they are. What the reader reports is printed.
func learnGraph(ctx context.Context, o IO, flows []string, settings agent.Settings, inferCluster bool) (*ir.Graph, agent.Settings, error) {
	if len(flows) == 0 {
		return nil, settings, nil
	}
	res, err := compiler.Compile(ctx, flows, compiler.Options{Learn: compiler.LearnOptions{Stdin: o.Stdin}, Agent: settings, InferCluster: inferCluster, StopAfter: compiler.StageNormalize})
	reports.PrintDiagnostics(o.Stderr, res.Diagnostics, o.Cwd)
	if err != nil {
		return nil, settings, err
	}
	if res.Diagnostics.HasErrors() {
		return nil, settings, ErrReported
	}
	return res.Graph, res.Agent, nil
}

// verifySet reads the policies of paths and verifies them as the API
// server and the agent would; a document that cannot be read, or a set
// without a policy, is an error.
func verifySet(ctx context.Context, o IO, paths []string, settings agent.Settings, namespace string) (*verify.Report, error) {
	objs, files, err := readPolicies(o, paths)
	if err != nil {
		return nil, err
	}
	v, err := verify.New(verify.Options{Agent: settings})
	if err != nil {
		return nil, err
	}
	vrep := v.Manifests(ctx, objs, namespace)
	if len(vrep.Results) == 0 {
		return nil, noPolicy(files)
	}
	return vrep, nil
}

// readPolicies reads the policy paths of replay, trace and reach; a
// document that cannot be read is printed and fails the command.
func readPolicies(o IO, paths []string) ([]manifest.Object, int, error) {
	objs, bad, files, err := manifest.ReadPaths(paths, o.Stdin)
	if err != nil {
		return nil, 0, err
	}
	reports.PrintDiagnostics(o.Stderr, bad, o.Cwd)
	if len(bad) > 0 {
		return nil, 0, fmt.Errorf("%d policy documents could not be read", len(bad))
	}
	return objs, files, nil
}

// noPolicy is the error of a policy set without a policy.
func noPolicy(files int) error {
	return fmt.Errorf("no CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy found in %d files", files)
}

// AnomalyGate is --fail-on-anomaly: fail (ErrFailed) when a finding
// scores at least FailOn.
type AnomalyGate struct {
	On     bool
	FailOn float64
}

// check prints and fails when the gate is on and a finding of r scores
// at least its threshold.
func (g AnomalyGate) check(o IO, cmd string, r *compiler.AnomalyReport) error {
	if !g.On {
		return nil
	}
	if n := r.AtLeast(g.FailOn); n > 0 {
		what := "anomalies"
		if n == 1 {
			what = "anomaly"
		}
		fmt.Fprintf(o.Stderr, "ppc %s: %d %s scored %g or more (--fail-on-anomaly)\n", cmd, n, what, g.FailOn)
		return ErrFailed
	}
	return nil
}
