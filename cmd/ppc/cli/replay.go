package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/lower"
	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/compiler/verify"
	"github.com/policypilot/ppc/internal/textsafe"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/reports/junit"
)

// replaySource are the inputs of a replay: flows, policies and the
// agent settings (shared by replay and explain).
type replaySource struct {
	readFlags
	flows           []string
	policyNamespace string
	agent           agentFlags
}

func (r *replaySource) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&r.flows, "flows", nil, "flow file, directory or - (repeatable; required unless --hubble-server)")
	r.readFlags.register(fs, "replay")
	fs.StringVar(&r.policyNamespace, "policy-namespace", "default", "namespace of CiliumNetworkPolicies that name none (as kubectl apply -n)")
	r.agent.register(fs)
	r.agent.fs = fs
}

type replayParams struct {
	src     replaySource
	expect  string
	probe   bool
	format  string
	verbose bool
	top     int
}

func init() {
	register(&command{
		name:  "replay",
		usage: "--flows FLOWS [--flows FLOWS...] [flags] POLICY_PATH|- ...",
		short: "replay Hubble flows through Cilium's policy engine loaded with policies",
		long: `Loads CiliumNetworkPolicies and CiliumClusterwideNetworkPolicies (files,
directories, "-") into Cilium's own policy engine as the agent does, and
replays every connection attempt in the flow files (any form ppc compile
reads; flows the cluster dropped by policy are attempts too): the verdict at
the source's egress and at the destination's ingress, the policies and rules
that decided, and "allowed at L4, the proxy decides" with the L7 rules that
apply. Identities are built as the agent builds them (cluster label,
scope-correct numeric IDs, longest-prefix CIDR identities, fqdn: labels from
the DNS names the flows carry).

Policies the API server or the agent would reject are reported and not
loaded: the cluster would not enforce them either.

The summary counts flows considered, allowed and denied, skipped records by
reason, and per policy the flows it allowed; a policy or rule no flow
exercised is listed (over-permission to review). --probe replays the
unobserved (source, destination, protocol, port) combinations over the
observed endpoints and ports and reports how many the policies allow (the
over-allow ratio).

Exit status: 0 every flow met --expect, 1 some did not (or a policy is
invalid), 2 usage error or unreadable input.`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			p := &replayParams{}
			p.src.register(fs)
			fs.StringVar(&p.expect, "expect", "allowed", "what every flow must be: allowed (observed traffic) or denied (e.g. attack traffic)")
			fs.BoolVar(&p.probe, "probe", false, "least-privilege probe: how many unobserved connections the policies allow")
			fs.IntVar(&p.top, "top", 5, "with --probe, how many policies (and examples of each) to list")
			fs.StringVarP(&p.format, "output", "o", "text", "output format: text, json or junit")
			fs.BoolVarP(&p.verbose, "verbose", "v", false, "list every connection, not only those that failed --expect")
			return func(ctx context.Context, e *env, args []string) error { return runReplay(ctx, e, p, args) }
		},
	})
}

// replayRun is everything a replay produced, for the renderers.
type replayRun struct {
	params   *replayParams
	graph    *ir.Graph
	report   *replay.Report
	probe    *replay.ProbeReport
	invalid  []verify.Result
	verified []verify.Result // every policy, valid or not
	loaded   int
	files    int
	failures []replay.Result
	cluster  string
	names    map[string]string
}

// run learns the flows (every connection attempt), verifies the
// policies (invalid ones are kept aside, not loaded, as the cluster would
// not enforce them), replays the flows through Cilium's engine loaded with
// the valid ones and, with probe, probes for over-permission.
func (r *replaySource) run(ctx context.Context, e *env, args []string, cmd string, probe bool, top int) (*replayRun, *compiler.Result, error) {
	r.hubble.defaultServer(r.flows)
	if len(r.flows) == 0 && r.hubble.server == "" {
		return nil, nil, usageErr("no flows: give --flows FILE or --hubble-server ADDR (usage: ppc %s --flows FLOWS POLICY_PATH...)", cmd)
	}
	if len(args) == 0 {
		return nil, nil, usageErr("no policies: give policy files, directories or - (usage: ppc %s --flows FLOWS POLICY_PATH...)", cmd)
	}
	learn, err := r.learnOptions(e, lower.Options{Attempts: true})
	if err != nil {
		return nil, nil, err
	}
	settings, err := r.agent.settings()
	if err != nil {
		return nil, nil, usageErr("%v", err)
	}
	stdinUsers := 0
	for _, a := range append(append([]string(nil), r.flows...), args...) {
		if a == "-" {
			stdinUsers++
		}
	}
	if stdinUsers > 1 {
		return nil, nil, usageErr("only one of --flows and the policies can be - (stdin)")
	}

	// The flows, as compile learns them, every attempt included.
	res, err := compiler.Compile(ctx, r.flows, compiler.Options{
		Learn: learn,
		Agent: settings, InferCluster: !r.agent.clusterSet(), StopAfter: compiler.StageNormalize,
	})
	printDiagnostics(e.stderr, res.Diagnostics, e.cwd)
	if err != nil {
		return nil, nil, compileError(err)
	}
	if res.Diagnostics.HasErrors() {
		return nil, nil, &exitError{code: exitFailure, printed: true}
	}
	if len(res.Graph.Edges) == 0 {
		printSkipped(e.stderr, res.Graph.Stats.Skipped)
		return nil, nil, &exitError{code: exitFailure, err: fmt.Errorf("no connection attempt to replay in %d records: a replay of nothing proves nothing", res.Graph.Stats.Records)}
	}
	settings = res.Agent
	if settings.ClusterName == "" {
		settings.ClusterName = "default"
	}

	// The policies, verified as the API server and the agent would.
	objs, inputErrs, files, err := readManifests(e, args)
	if err != nil {
		return nil, nil, err
	}
	printDiagnostics(e.stderr, inputErrs, e.cwd)
	if len(inputErrs) > 0 {
		return nil, nil, &exitError{code: exitFailure, err: fmt.Errorf("%d policy documents could not be read", len(inputErrs))}
	}
	v, err := verify.New(verify.Options{Agent: settings})
	if err != nil {
		return nil, nil, err
	}
	vrep := v.Manifests(ctx, objs, r.policyNamespace)
	printDiagnostics(e.stderr, vrep.Warnings, e.cwd)
	if len(vrep.Results) == 0 {
		return nil, nil, &exitError{code: exitFailure, err: fmt.Errorf("no CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy found in %d files", files)}
	}
	var po *replay.ProbeOptions
	if probe {
		po = &replay.ProbeOptions{Examples: top}
	}
	mr, err := compiler.ReplayManifests(res.Graph, vrep.Results, settings, po)
	if err != nil {
		return nil, nil, compileError(err)
	}
	run := &replayRun{graph: res.Graph, files: files, cluster: settings.ClusterName, verified: vrep.Results,
		report: mr.Report, probe: mr.Probe, invalid: mr.Invalid, loaded: mr.Loaded}
	if len(mr.Clusters) > 1 {
		run.cluster = strings.Join(mr.Clusters, ", ")
	}
	return run, res, nil
}

func runReplay(ctx context.Context, e *env, p *replayParams, args []string) error {
	if p.expect != "allowed" && p.expect != "denied" {
		return usageErr("--expect %q: want allowed or denied", p.expect)
	}
	switch p.format {
	case "text", "json", "junit":
	default:
		return usageErr("-o %q: want text, json or junit", p.format)
	}
	run, res, err := p.src.run(ctx, e, args, "replay", p.probe, p.top)
	if err != nil {
		return err
	}
	run.params = p
	for _, r := range run.report.Results {
		if r.Verdict.Allowed() != (p.expect == "allowed") {
			run.failures = append(run.failures, r)
		}
	}

	switch p.format {
	case "json":
		err = writeJSON(e.stdout, run.json(e.cwd))
	case "junit":
		err = run.junit(e.stdout)
	default:
		for _, r := range run.invalid {
			printVerify(e.stderr, &verify.Report{Results: []verify.Result{r}}, false, e.cwd)
		}
		run.text(e.stdout, e.cwd)
		run.summary(e.stderr, res)
	}
	if err != nil {
		return err
	}
	if len(run.failures) > 0 || len(run.invalid) > 0 {
		return &exitError{code: exitFailed, printed: true}
	}
	return nil
}

// name is how a connection's endpoint is shown (ir.Graph.DisplayNames).
func (r *replayRun) name(id string) string {
	if r.names == nil {
		r.names = r.graph.DisplayNames()
	}
	return textsafe.Line(r.names[id])
}

func (r *replayRun) connName(x replay.Result) string {
	e := x.Edge
	return fmt.Sprintf("%s -> %s %s/%d", r.name(e.Src), r.name(e.Dst), e.Protocol, e.Port)
}

// pointText describes one enforcement point's verdict.
func pointText(where string, pt replay.Point) string {
	switch pt.Decision {
	case replay.NotApplicable:
		return where + ": not enforced"
	case replay.Denied:
		if len(pt.By) == 0 {
			return where + ": denied (no rule allows it)"
		}
		return where + ": denied by " + refsText(pt.By)
	}
	s := where + ": allowed"
	if len(pt.By) > 0 {
		s += " by " + refsText(pt.By)
	} else {
		s += " (no policy isolates the endpoint, or the agent allows it: e.g. from the host)"
	}
	if pt.Proxy {
		s += "; the L7 proxy decides per request"
		for _, l := range pt.L7 {
			b, _ := json.Marshal(l.Rules)
			s += fmt.Sprintf(" [%s %s]", l.Parser, b)
		}
	}
	return s
}

func refsText(rs []replay.RuleRef) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, textsafe.Line(r.String()))
	}
	return strings.Join(parts, ", ")
}

func (r *replayRun) text(w io.Writer, cwd string) {
	fail := map[string]bool{}
	for _, f := range r.failures {
		fail[f.Edge.ID] = true
	}
	for _, x := range r.report.Results {
		if !fail[x.Edge.ID] && !r.params.verbose {
			continue
		}
		verdict := "allowed"
		if !x.Verdict.Allowed() {
			verdict = "DENIED"
		}
		mark := ""
		if fail[x.Edge.ID] {
			mark = "  (expected " + r.params.expect + ")"
		}
		fmt.Fprintf(w, "%-7s %s  %d flows%s\n", verdict, r.connName(x), x.Flows, mark)
		fmt.Fprintf(w, "    %s\n    %s\n", pointText("egress", x.Verdict.Egress), pointText("ingress", x.Verdict.Ingress))
		for _, s := range x.Edge.Samples {
			fmt.Fprintf(w, "    %s\n", relPos(s, cwd))
		}
	}
}

func (r *replayRun) summary(w io.Writer, res *compiler.Result) {
	g, rep := r.graph, r.report
	fmt.Fprintf(w, "ppc replay: %d policies loaded", r.loaded)
	if n := len(r.invalid); n > 0 {
		fmt.Fprintf(w, " (%d invalid, not loaded: the cluster would not enforce them)", n)
	}
	fmt.Fprintf(w, "; cluster %q\n", r.cluster)
	fmt.Fprintf(w, "ppc replay: %d records from %d files: %d flows considered (%d connections): %d allowed, %d denied",
		g.Stats.Records, res.Summary.Files, rep.Flows, rep.Connections, rep.AllowedFlows, rep.DeniedFlows)
	if rep.Proxied > 0 {
		fmt.Fprintf(w, "; %d connections allowed at L4 where the L7 proxy decides", rep.Proxied)
	}
	fmt.Fprintln(w)
	printSkipped(w, g.Stats.Skipped)
	fmt.Fprintln(w, "ppc replay: per policy (flows allowed / denied by its rules):")
	for _, u := range rep.Policies {
		if !u.Exercised() {
			fmt.Fprintf(w, "  %-40s NOT EXERCISED: no flow reached any of its %d rules (review: over-permission or stale)\n", u.Policy, len(u.Rules))
			continue
		}
		fmt.Fprintf(w, "  %-40s %d / %d flows (%d / %d connections)\n", u.Policy, u.AllowedFlows, u.DeniedFlows, u.AllowedConnections, u.DeniedConnections)
		if un := u.Unexercised(); len(un) > 0 {
			fmt.Fprintf(w, "  %-40s   rules no flow exercised: %s\n", "", strings.Join(un, ", "))
		}
	}
	if pr := r.probe; pr != nil {
		printProbeLine(w, pr)
		for i, c := range pr.ByPolicy {
			if i == r.params.top {
				break
			}
			fmt.Fprintf(w, "  %-40s allows %d unobserved, e.g.\n", c.Policy, c.Allowed)
			for _, h := range c.Examples {
				fmt.Fprintf(w, "      %s -> %s %s/%d\n", r.name(h.Src), r.name(h.Dst), h.Protocol, h.Port)
			}
		}
	}
	if n := len(r.failures); n > 0 {
		fmt.Fprintf(w, "ppc replay: FAIL: %d connections (%d flows) are not %s\n", n, flowsOf(r.failures), r.params.expect)
	} else {
		fmt.Fprintf(w, "ppc replay: ok: every flow is %s\n", r.params.expect)
	}
}

func flowsOf(rs []replay.Result) int64 {
	var n int64
	for _, r := range rs {
		n += r.Flows
	}
	return n
}

// jsonPoint is an enforcement point in -o json.
type jsonPoint struct {
	Decision string           `json:"decision"`
	Proxy    bool             `json:"proxy,omitempty"`
	By       []replay.RuleRef `json:"by"`
	L7       []replay.L7      `json:"l7,omitempty"`
}

func toJSONPoint(p replay.Point) jsonPoint {
	by := p.By
	if by == nil {
		by = []replay.RuleRef{}
	}
	return jsonPoint{Decision: p.Decision.String(), Proxy: p.Proxy, By: by, L7: p.L7}
}

func (r *replayRun) json(cwd string) any {
	type conn struct {
		ID       string    `json:"id"`
		Src      string    `json:"src"`
		Dst      string    `json:"dst"`
		Protocol string    `json:"protocol"`
		Port     uint16    `json:"port"`
		Flows    int64     `json:"flows"`
		Verdict  string    `json:"verdict"`
		Expected bool      `json:"asExpected"`
		Egress   jsonPoint `json:"egress"`
		Ingress  jsonPoint `json:"ingress"`
		Samples  []string  `json:"samples,omitempty"`
	}
	type invalid struct {
		File   string   `json:"file"`
		Line   int      `json:"line"`
		Policy string   `json:"policy"`
		Errors []string `json:"errors"`
	}
	rep := r.report
	out := struct {
		Cluster string `json:"cluster"`
		Expect  string `json:"expect"`
		Summary struct {
			PoliciesLoaded  int              `json:"policiesLoaded"`
			PoliciesInvalid int              `json:"policiesInvalid"`
			Records         int64            `json:"records"`
			Flows           int64            `json:"flows"`
			Connections     int              `json:"connections"`
			AllowedFlows    int64            `json:"allowedFlows"`
			DeniedFlows     int64            `json:"deniedFlows"`
			Proxied         int              `json:"proxiedConnections"`
			Failed          int              `json:"failedConnections"`
			Skipped         map[string]int64 `json:"skipped"`
		} `json:"summary"`
		Connections []conn              `json:"connections"`
		Policies    []replay.PolicyUse  `json:"policies"`
		Invalid     []invalid           `json:"invalidPolicies"`
		Probe       *replay.ProbeReport `json:"probe,omitempty"`
	}{Cluster: r.cluster, Expect: r.params.expect, Connections: []conn{}, Invalid: []invalid{}, Policies: rep.Policies, Probe: r.probe}
	s := &out.Summary
	s.PoliciesLoaded, s.PoliciesInvalid = r.loaded, len(r.invalid)
	s.Records, s.Flows, s.Connections = r.graph.Stats.Records, rep.Flows, rep.Connections
	s.AllowedFlows, s.DeniedFlows, s.Proxied, s.Failed = rep.AllowedFlows, rep.DeniedFlows, rep.Proxied, len(r.failures)
	s.Skipped = r.graph.Stats.Skipped
	if s.Skipped == nil {
		s.Skipped = map[string]int64{}
	}
	if out.Policies == nil {
		out.Policies = []replay.PolicyUse{}
	}
	for _, x := range rep.Results {
		e := x.Edge
		verdict := "allowed"
		if !x.Verdict.Allowed() {
			verdict = "denied"
		}
		c := conn{ID: e.ID, Src: e.Src, Dst: e.Dst, Protocol: e.Protocol, Port: e.Port, Flows: x.Flows, Verdict: verdict,
			Expected: verdict == r.params.expect, Egress: toJSONPoint(x.Verdict.Egress), Ingress: toJSONPoint(x.Verdict.Ingress)}
		for _, p := range e.Samples {
			c.Samples = append(c.Samples, relPos(p, cwd))
		}
		out.Connections = append(out.Connections, c)
	}
	for _, v := range r.invalid {
		iv := invalid{File: relPos(ir.Pos{File: v.Object.Pos.File}, cwd), Line: v.Object.Pos.Line, Policy: v.Object.ID()}
		for _, d := range v.Diagnostics {
			iv.Errors = append(iv.Errors, verify.Describe(d))
		}
		out.Invalid = append(out.Invalid, iv)
	}
	return out
}

// junit writes one test case per connection (flow group), failed when
// its verdict is not the expected one; invalid policies are failed cases
// of their own suite.
func (r *replayRun) junit(w io.Writer) error {
	flowsSuite := junit.Suite{Name: "ppc replay: flows must be " + r.params.expect}
	for _, x := range r.report.Results {
		tc := junit.Case{Name: r.connName(x), Classname: r.name(x.Edge.Src)}
		if x.Verdict.Allowed() != (r.params.expect == "allowed") {
			verdict := "allowed"
			if !x.Verdict.Allowed() {
				verdict = "denied"
			}
			tc.Failure = &junit.Message{Type: verdict, Message: fmt.Sprintf("%d flows %s, expected %s", x.Flows, verdict, r.params.expect),
				Text: pointText("egress", x.Verdict.Egress) + "\n" + pointText("ingress", x.Verdict.Ingress)}
		}
		flowsSuite.Cases = append(flowsSuite.Cases, tc)
	}
	doc := junit.Suites{Name: "ppc replay", Suites: []junit.Suite{flowsSuite}}
	if len(r.invalid) > 0 {
		ps := junit.Suite{Name: "ppc replay: policies must be valid"}
		for _, v := range r.invalid {
			var lines []string
			for _, d := range v.Diagnostics {
				lines = append(lines, verify.Describe(d))
			}
			ps.Cases = append(ps.Cases, junit.Case{Name: v.Object.ID(), Classname: v.Object.Pos.File,
				Failure: &junit.Message{Type: "invalid", Message: "not loaded: the cluster would not enforce it", Text: strings.Join(lines, "\n")}})
		}
		doc.Suites = append(doc.Suites, ps)
	}
	return junit.Write(w, doc)
}
