package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/compiler/verify"
	"github.com/policypilot/ppc/internal/textsafe"
	"github.com/policypilot/ppc/ir"
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
		long: `Checks every CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy in the
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
	if p.format != "text" && p.format != "json" {
		return usageErr("-o %q: want text or json", p.format)
	}
	settings, err := p.agent.settings()
	if err != nil {
		return usageErr("%v", err)
	}
	org, err := loadSchemas(p.schemas)
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
	if p.format == "json" {
		if err := writeJSON(e.stdout, verifyJSON(rep, inputErrs, files, e.cwd)); err != nil {
			return err
		}
	} else {
		printDiagnostics(e.stderr, inputErrs, e.cwd)
		printDiagnostics(e.stderr, rep.Warnings, e.cwd)
		printVerify(e.stdout, rep, p.verbose, e.cwd)
		printVerifySummary(e.stderr, rep, files)
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

// readManifests expands and reads the policy arguments of verify and
// replay: the objects, the documents that could not be read, and the
// number of files.
func readManifests(e *env, args []string) ([]manifest.Object, ir.Diagnostics, int, error) {
	ins, err := manifest.Expand(args)
	if err != nil {
		return nil, nil, 0, &exitError{code: exitFailure, err: err}
	}
	objs, bad, err := manifest.Read(ins, e.stdin)
	if err != nil {
		return nil, nil, 0, &exitError{code: exitFailure, err: err}
	}
	return objs, bad, len(ins), nil
}

func loadSchemas(dirs []string) ([]*schemas.Schema, error) {
	var out []*schemas.Schema
	for _, d := range dirs {
		s, err := schemas.LoadOrg(d)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

const agentWarning = "kubectl apply succeeds, but the Cilium agent rejects this policy and does NOT enforce it"

// printVerify lists every invalid policy with its errors, one per line,
// layer first.
func printVerify(w io.Writer, rep *verify.Report, verbose bool, cwd string) {
	for _, r := range rep.Results {
		o := r.Object
		where := relPos(o.Pos, cwd) + docSuffix(o)
		if r.Valid() {
			if verbose {
				fmt.Fprintf(w, "%s: %s: valid\n", where, textsafe.Line(o.ID()))
			}
			continue
		}
		fmt.Fprintf(w, "%s: %s: INVALID\n", where, textsafe.Line(o.ID()))
		for _, d := range r.Diagnostics {
			path := ""
			if len(d.Path) > 0 {
				path = ir.JoinPath(d.Path) + ": "
			}
			fmt.Fprintf(w, "    %-6s %s%s\n", verify.LayerOf(d), textsafe.Line(path), textsafe.Line(d.Msg))
		}
		if r.AgentOnly() {
			fmt.Fprintf(w, "    %s\n", agentWarning)
		}
	}
}

func docSuffix(o manifest.Object) string {
	s := fmt.Sprintf(" (document %d", o.Doc)
	if o.Item > 0 {
		s += fmt.Sprintf(", item %d", o.Item)
	}
	return s + ")"
}

func printVerifySummary(w io.Writer, rep *verify.Report, files int) {
	n := len(rep.Results)
	fmt.Fprintf(w, "ppc verify: %d policies in %d files: %d valid, %d invalid", n, files, n-rep.Invalid(), rep.Invalid())
	if by := rep.ByLayer(); len(by) > 0 {
		var parts []string
		for _, l := range []verify.Layer{verify.LayerSchema, verify.LayerAgent, verify.LayerOrg} {
			if by[l] > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", l, by[l]))
			}
		}
		fmt.Fprintf(w, " (%s)", strings.Join(parts, ", "))
	}
	if len(rep.Skipped) > 0 {
		total := 0
		var kinds []string
		for k, c := range rep.Skipped {
			total += c
			kinds = append(kinds, fmt.Sprintf("%s %d", k, c))
		}
		sort.Strings(kinds)
		fmt.Fprintf(w, "; %d objects of other kinds skipped (%s)", total, strings.Join(kinds, ", "))
	}
	fmt.Fprintln(w)
	if a := rep.AgentOnly(); a > 0 {
		fmt.Fprintf(w, "ppc verify: %d policies pass the API server but are rejected by the Cilium agent: kubectl apply succeeds and they are NOT enforced\n", a)
	}
}

// verifyJSON is the machine-readable report of ppc verify -o json.
func verifyJSON(rep *verify.Report, inputErrs ir.Diagnostics, files int, cwd string) any {
	type jerr struct {
		Layer   string   `json:"layer"`
		Path    string   `json:"path,omitempty"`
		Message string   `json:"message"`
		Details []string `json:"details,omitempty"`
	}
	type jpol struct {
		File       string `json:"file"`
		Line       int    `json:"line"`
		Document   int    `json:"document"`
		Item       int    `json:"item,omitempty"`
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Namespace  string `json:"namespace,omitempty"`
		Name       string `json:"name"`
		Valid      bool   `json:"valid"`
		// AgentOnly: accepted by the API server, rejected by the agent.
		AgentOnly bool   `json:"agentOnly"`
		Errors    []jerr `json:"errors"`
	}
	type jdiag struct {
		File    string `json:"file"`
		Line    int    `json:"line"`
		Message string `json:"message"`
	}
	out := struct {
		Summary struct {
			Files    int            `json:"files"`
			Policies int            `json:"policies"`
			Valid    int            `json:"valid"`
			Invalid  int            `json:"invalid"`
			ByLayer  map[string]int `json:"invalidByLayer"`
			Skipped  map[string]int `json:"skippedKinds"`
		} `json:"summary"`
		Policies    []jpol  `json:"policies"`
		Warnings    []jdiag `json:"warnings"`
		InputErrors []jdiag `json:"inputErrors"`
	}{Policies: []jpol{}, Warnings: []jdiag{}, InputErrors: []jdiag{}}
	out.Summary.Files = files
	out.Summary.Policies = len(rep.Results)
	out.Summary.Invalid = rep.Invalid()
	out.Summary.Valid = len(rep.Results) - rep.Invalid()
	out.Summary.ByLayer = map[string]int{}
	for l, n := range rep.ByLayer() {
		out.Summary.ByLayer[string(l)] = n
	}
	out.Summary.Skipped = rep.Skipped
	file := func(p ir.Pos) string {
		s := relPos(ir.Pos{File: p.File}, cwd)
		return s
	}
	for _, r := range rep.Results {
		o := r.Object
		jp := jpol{File: file(o.Pos), Line: o.Pos.Line, Document: o.Doc, Item: o.Item, APIVersion: o.APIVersion, Kind: o.Kind,
			Namespace: o.Namespace, Name: o.Name, Valid: r.Valid(), Errors: []jerr{},
			AgentOnly: r.AgentOnly()}
		for _, d := range r.Diagnostics {
			jp.Errors = append(jp.Errors, jerr{Layer: string(verify.LayerOf(d)), Path: ir.JoinPath(d.Path), Message: d.Msg, Details: d.Details})
		}
		out.Policies = append(out.Policies, jp)
	}
	for _, d := range rep.Warnings {
		out.Warnings = append(out.Warnings, jdiag{File: file(d.Pos), Line: d.Pos.Line, Message: d.Msg})
	}
	for _, d := range inputErrs {
		out.InputErrors = append(out.InputErrors, jdiag{File: file(d.Pos), Line: d.Pos.Line, Message: d.Object + ": " + d.Msg})
	}
	return out
}
