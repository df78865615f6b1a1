package compiler

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/flows"
	"github.com/policypilot/ppc/compiler/manifest"
	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/compiler/synth"
	"github.com/policypilot/ppc/compiler/verify"
	"github.com/policypilot/ppc/internal/parallel"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/lint"
	"github.com/policypilot/ppc/rules"
	"github.com/policypilot/ppc/schemas"
)

// StageID names a pipeline stage.
type StageID string

// The stages, in order.
const (
	StageLearn      StageID = "learn"      // read flows and IR snapshots, lower flows into the IR (streamed)
	StageNormalize  StageID = "normalize"  // IR passes with invariant checks
	StageDecide     StageID = "decide"     // rule packs decide identities, grouping and rules
	StageAnomaly    StageID = "anomaly"    // rule packs' detectors score what deserves a human look
	StageSynthesize StageID = "synthesize" // decisions into Cilium's CiliumNetworkPolicy objects
	StageVerify     StageID = "verify"     // API-server schema, agent Parse, CUE
	StageReplay     StageID = "replay"     // observed connections through Cilium's policy engine
	StageEmit       StageID = "emit"       // the documents to write, in order, each with its path
	StageLint       StageID = "lint"       // the lint gate (with Options.Lint): deny findings fail the compile
)

type stage struct {
	id  StageID
	run func(s *state, ctx context.Context) error
}

// stages is the pipeline. A stage that reports error diagnostics stops it.
var stages = []stage{
	{StageLearn, (*state).learn},
	{StageNormalize, (*state).normalize},
	{StageDecide, (*state).decide},
	{StageAnomaly, (*state).anomaly},
	{StageSynthesize, (*state).synthesize},
	{StageVerify, (*state).verify},
	{StageReplay, (*state).replay},
	{StageEmit, (*state).emit},
	{StageLint, (*state).lint},
}

// AllStages lists the stage IDs in order.
func AllStages() []StageID {
	ids := make([]StageID, len(stages))
	for i, s := range stages {
		ids[i] = s.id
	}
	return ids
}

// ParseStage checks a stage name.
func ParseStage(name string) (StageID, error) {
	for _, s := range stages {
		if string(s.id) == name {
			return s.id, nil
		}
	}
	var names []string
	for _, s := range stages {
		names = append(names, string(s.id))
	}
	return "", fmt.Errorf("unknown stage %q (stages: %s)", name, strings.Join(names, ", "))
}

// Options configure a compile.
type Options struct {
	Learn LearnOptions
	// Graph, when set, is compiled instead of reading Args.
	Graph *ir.Graph
	// Rules are organisation pack directories, layered in order.
	Rules []string
	// Set are key=value settings applied over every pack's config.
	Set []string
	// Schemas are organisation CUE schema directories.
	Schemas []string
	Agent   agent.Settings
	// InferCluster takes the cluster name from the flows' cluster labels
	// (k8s:io.cilium.k8s.policy.cluster) instead of Agent.ClusterName.
	InferCluster bool
	// StopAfter ends the pipeline after this stage ("" runs all).
	StopAfter StageID
	// NoReplay skips the replay stage.
	NoReplay bool
	// NoProbe skips the least-privilege probe of the replay stage.
	NoProbe bool
	// Stage, if set, is told the name of each stage as it starts (for a
	// progress indicator).
	Stage func(StageID)
	// SkipPasses disables optional IR passes by name.
	SkipPasses map[string]bool
	// RuleTimeout bounds rule evaluation; RuleMemory the heap during it
	// (bytes; 0: rules.DefaultMemoryLimit).
	RuleTimeout time.Duration
	RuleMemory  uint64
	// ShardEdges is the decision's edge ends per shard of namespaces when
	// the packs allow sharding (rules.Options.ShardEdges; 0: the default,
	// negative: never sharded).
	ShardEdges int
	// Lint, when set, gates the emitted documents with lint packs: the
	// lint stage runs only with it.
	Lint *LintOptions
	// Baseline, when set, is an earlier snapshot the anomaly detectors
	// compare the graph with (see ReadBaseline).
	Baseline *ir.Graph
	// NoAnomalies skips the anomaly stage.
	NoAnomalies bool
	// Target is the kind of policy written: synth.TargetCilium ("" too),
	// TargetKubernetes or TargetAuto.
	Target string
}

// LintOptions configure the lint gate.
type LintOptions struct {
	// Packs are organisation lint packs (directories or bundles), linted
	// with the embedded default pack.
	Packs []string
	// Timeout bounds the lint rules on one policy; Memory the heap
	// (bytes; 0: rules.DefaultMemoryLimit).
	Timeout time.Duration
	Memory  uint64
}

// Timing is how long a stage took.
type Timing struct {
	Stage    StageID
	Duration time.Duration
	// Beside, if set, is the stage this one ran beside (on another core):
	// Duration is then its own time, most of it inside the other's.
	Beside StageID
	// Note says how the stage ran, when that matters to its time (decide:
	// in how many shards of namespaces).
	Note string
}

// ReplayReport is the replay stage's account of every IR edge.
type ReplayReport struct {
	// Report is the engine's account: every connection's verdict, the
	// use of every policy and rule.
	*replay.Report
	// Excluded counts the denied connections the rule packs chose not to
	// allow; every other denied connection is an error.
	Excluded int
	// Probe is the least-privilege probe over unobserved connections.
	Probe *replay.ProbeReport
	// Requests counts the observed HTTP requests and DNS lookups on
	// connections the L7 proxy decides; RequestsAllowed those its rules
	// allow, RequestsUnknown those only host or header rules could allow.
	Requests, RequestsAllowed, RequestsUnknown int
	// L7Probe is the probe of the HTTP rules (nil without the probe, or
	// with no observed HTTP request on a proxied connection).
	L7Probe *replay.L7ProbeReport
}

// Doc is one policy document ready to write: its kind, namespace and
// name, and the JSON bytes that were verified (package reports renders and
// writes them; the compiler depends on no output format).
type Doc struct {
	// Cluster is set when policies are written per cluster (ClusterMesh).
	Cluster    string
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
	JSON       []byte
}

// ClusterwideDir holds the clusterwide policies below an output directory
// (no namespace is named so: a namespace name cannot start with "_").
const ClusterwideDir = "_clusterwide"

// Path is where the document is written below an output directory:
// "[cluster/]namespace/name.yaml" ("_clusterwide/name.yaml" for a
// clusterwide policy), slash-separated.
func (d Doc) Path() string {
	ns := d.Namespace
	if ns == "" {
		ns = ClusterwideDir
	}
	p := ns + "/" + d.Name + ".yaml"
	if d.Cluster != "" {
		p = d.Cluster + "/" + p
	}
	return p
}

// Object is the document as ppc's policy readers (lint, verify, replay)
// see one read from its file.
func (d Doc) Object() manifest.Object {
	return manifest.Object{Pos: ir.Pos{File: d.Path(), Line: 1}, Doc: 1, APIVersion: d.APIVersion, Kind: d.Kind, Namespace: d.Namespace, Name: d.Name, JSON: d.JSON}
}

// Result holds every stage's output.
type Result struct {
	Summary flows.Summary
	Graph   *ir.Graph
	// Decisions are the rule packs' decisions; once the synthesize stage
	// ran, their policies' rules are dropped (Policies holds them).
	Decisions *rules.Decisions
	Policies  []*synth.Policy
	Docs      []Doc
	Replay    *ReplayReport
	// Anomalies are the anomaly stage's findings (nil when it did not
	// run); Recommendations what a reviewer should consider changing
	// (drawn at the emit stage, from the policies, the probe and the
	// anomalies).
	Anomalies       *AnomalyReport
	Recommendations []Recommendation
	// Lint is the lint gate's report (with Options.Lint).
	Lint        *lint.Report
	Diagnostics ir.Diagnostics
	Timings     []Timing
	// Completed is the last stage that ran to completion.
	Completed StageID
	// Agent are the agent settings verification and replay used (with the
	// cluster name taken from the flows when Options.InferCluster is set).
	Agent agent.Settings
}

type state struct {
	args []string
	opts Options
	res  *Result
	eng  *rules.Engine // the decide stage's, for the anomaly stage
	// runs are the stages this compile runs (the options neither skip
	// them nor stop before them).
	runs map[StageID]bool
	// anomalies, once decide has started the anomaly stage's work beside
	// its own, delivers its result.
	anomalies chan anomalyResult
	beside    *Timing // the timing of a stage that ran beside another
}

type anomalyResult struct {
	r    *AnomalyReport
	err  error
	took time.Duration
}

// InputError is an error in the input, the rule packs or the schemas the
// user supplied, or an internal error: the compile could not run (exit
// status 2), as opposed to output that failed a check (exit status 1).
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Compile runs the pipeline over the flow files and IR snapshots in args.
// A non-nil error is an InputError; otherwise errors in the result's
// diagnostics mean the output failed verification, replay or a gate.
func Compile(ctx context.Context, args []string, opts Options) (*Result, error) {
	ctx, cancel := context.WithCancel(ctx) // ends work a failed stage leaves running
	defer cancel()
	s := &state{args: args, opts: opts, res: &Result{Agent: opts.Agent}, runs: map[StageID]bool{}}
	for _, st := range stages {
		s.runs[st.id] = !(st.id == StageReplay && opts.NoReplay || st.id == StageLint && opts.Lint == nil || st.id == StageAnomaly && opts.NoAnomalies)
		if st.id == opts.StopAfter {
			break
		}
	}
	for _, st := range stages {
		if opts.Stage != nil {
			opts.Stage(st.id)
		}
		if !s.runs[st.id] {
			continue
		}
		if err := ctx.Err(); err != nil {
			// Interrupted (Ctrl-C): stop before the next stage.
			return s.res, &InputError{err}
		}
		start := time.Now()
		err := runStage(ctx, st, s)
		if err == nil {
			err = ctx.Err()
		}
		t := Timing{Stage: st.id, Duration: time.Since(start)}
		if d := s.res.Decisions; st.id == StageDecide && d != nil && d.Shards > 1 {
			t.Note = fmt.Sprintf("%d shards of namespaces", d.Shards)
		}
		if s.beside != nil {
			t, s.beside = *s.beside, nil
		}
		s.res.Timings = append(s.res.Timings, t)
		if err != nil {
			return s.res, &InputError{err}
		}
		s.res.Diagnostics.Sort()
		if s.res.Diagnostics.HasErrors() {
			return s.res, nil
		}
		s.res.Completed = st.id
		if st.id == opts.StopAfter {
			break
		}
	}
	return s.res, nil
}

func runStage(ctx context.Context, st stage, s *state) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error in stage %s: %v\n%s", st.id, r, debug.Stack())
		}
	}()
	return st.run(s, ctx)
}

func (s *state) learn(ctx context.Context) error {
	if s.opts.Graph != nil {
		s.res.Graph = s.opts.Graph
		return nil
	}
	g, sum, ds, err := Learn(ctx, s.args, s.opts.Learn)
	s.res.Summary = sum
	s.res.Diagnostics = append(s.res.Diagnostics, ds...)
	if err != nil {
		return err
	}
	s.res.Graph = g
	return nil
}

func (s *state) normalize(context.Context) error {
	ds, _ := ir.Normalize(s.res.Graph, true, s.opts.SkipPasses)
	for _, d := range ds {
		if d.Code == "ppc_ir_invariant" || d.Code == "ppc_internal_error" {
			return fmt.Errorf("internal error: %s", d.Error())
		}
	}
	s.res.Diagnostics = append(s.res.Diagnostics, ds...)
	if s.opts.InferCluster {
		if name, d := InferClusterName(s.res.Graph); name != "" {
			s.opts.Agent.ClusterName = name
			s.res.Agent.ClusterName = name
			if d != nil {
				s.res.Diagnostics = append(s.res.Diagnostics, d)
			}
		}
	}
	return nil
}

// InferClusterName returns the cluster name the workloads' identity labels
// carry (the most common one, with a warning if there are several), or ""
// if none does.
func InferClusterName(g *ir.Graph) (string, *ir.Diagnostic) {
	counts := map[string]int{}
	for _, n := range g.Nodes {
		if v := n.Cluster(); v != "" {
			counts[v]++
		}
	}
	best := ""
	var names []string
	for n, c := range counts {
		names = append(names, n)
		if best == "" || c > counts[best] || c == counts[best] && n < best {
			best = n
		}
	}
	if len(names) > 1 {
		sort.Strings(names)
		d := ir.Warnf("ppc_cluster_ambiguous", ir.Pos{}, "the flows come from several clusters (%s): policies are written per cluster (-o DIR/<cluster>/<namespace>/<name>.yaml), peers in another cluster are selected by their cluster label, and each cluster's policies are replayed with its name (%q is the default for the rest)", strings.Join(names, ", "), best)
		d.Stage = string(StageNormalize)
		return best, d
	}
	return best, nil
}

// ClusterSet groups the compiled policies by the cluster whose agents
// enforce them: one set named "" when the flows name no cluster or one.
func (r *Result) ClusterSet() replay.ClusterSet {
	by := map[string][]replay.Policy{}
	docs := map[[3]string]Doc{}
	for _, d := range r.Docs {
		docs[[3]string{d.Cluster, d.Namespace, d.Name}] = d
	}
	for _, p := range r.Policies {
		// Each policy as it is written (a NetworkPolicy translated as the
		// agent translates it); its types only when it has no document.
		rp := replay.Policy{CNP: p.CNP}
		if p.CCNP != nil {
			rp = replay.Policy{CCNP: p.CCNP}
		}
		if d, ok := docs[[3]string{p.Cluster, p.CNP.Namespace, p.CNP.Name}]; ok {
			rp = replay.Policy{Kind: d.Kind, JSON: d.JSON}
		}
		by[p.Cluster] = append(by[p.Cluster], rp)
	}
	cs := replay.ClusterSet{Clusters: []string{""}}
	if len(by) > 1 || by[""] == nil && len(by) == 1 {
		cs.Clusters = cs.Clusters[:0]
		for c := range by {
			cs.Clusters = append(cs.Clusters, c)
		}
		sort.Strings(cs.Clusters)
	}
	for _, c := range cs.Clusters {
		cs.Policies = append(cs.Policies, by[c])
	}
	return cs
}

func (s *state) decide(ctx context.Context) error {
	packs, err := rules.LoadDirs(s.opts.Rules)
	if err != nil {
		return err
	}
	eng, err := rules.NewEngine(ctx, rules.Options{Packs: packs, Set: s.opts.Set, Timeout: s.opts.RuleTimeout, MemoryLimit: s.opts.RuleMemory, CheckSettings: schemas.CheckSettings, ShardEdges: s.opts.ShardEdges})
	if err != nil {
		return fmt.Errorf("rule packs: %w", err)
	}
	s.eng = eng
	if s.runs[StageAnomaly] && len(s.res.Graph.Edges)+len(s.res.Graph.Denied) <= anomalyBesideEdges {
		// The detectors read only the graph: they run on the other core
		// while the packs decide, and the anomaly stage takes their result.
		// (On a larger graph they run after: their input and the shards'
		// would be live at once.)
		s.anomalies = make(chan anomalyResult, 1)
		go func() {
			var x anomalyResult
			start := time.Now()
			defer func() {
				x.took = time.Since(start)
				if r := recover(); r != nil {
					x.err = fmt.Errorf("internal error in stage %s: %v\n%s", StageAnomaly, r, debug.Stack())
				}
				s.anomalies <- x
			}()
			x.r, x.err = Anomalies(ctx, eng, s.res.Graph, s.opts.Baseline)
		}()
	}
	d, err := eng.Decide(ctx, s.res.Graph)
	if err != nil {
		return fmt.Errorf("rule packs: %w", err)
	}
	s.res.Decisions = d
	for _, w := range d.Warnings {
		diag := ir.Warnf("ppc_decision_warning", ir.Pos{}, "%s", w.Msg)
		diag.Stage = string(StageDecide)
		diag.Object = firstNonEmpty(w.Policy, w.Object)
		s.res.Diagnostics = append(s.res.Diagnostics, diag)
	}
	for _, f := range d.Warn {
		diag := ir.Warnf("ppc_gate_warn", ir.Pos{}, "%s", f.Msg)
		diag.Stage = string(StageDecide)
		diag.Object = firstNonEmpty(f.Policy, f.Object)
		s.res.Diagnostics = append(s.res.Diagnostics, diag)
	}
	for _, f := range d.Deny {
		diag := ir.Errorf("ppc_gate_deny", ir.Pos{}, "%s", f.Msg)
		diag.Stage = string(StageDecide)
		diag.Object = firstNonEmpty(f.Policy, f.Object)
		s.res.Diagnostics = append(s.res.Diagnostics, diag)
	}
	return nil
}

// anomalyBesideEdges is the most edges (learned and denied) for which
// the anomaly stage runs beside decide rather than after it. A graph that
// large is decided in dozens of shards on every core, so the detectors
// beside them only compete for the cores, and their input (every edge as
// OPA values, about 1 KB an edge) is live with the shards'. At 500k
// connections, after decide: anomaly 4.4 s instead of 9-10, decide 51 s
// instead of 61-64, and the heap while deciding peaked at 1.1 GB, not
// 2.1 (the compile's peak is then synthesize's, 2.05 GB).
var anomalyBesideEdges = 100_000

func (s *state) anomaly(ctx context.Context) error {
	var x anomalyResult
	if s.anomalies != nil {
		x = <-s.anomalies // started by decide
		s.beside = &Timing{Stage: StageAnomaly, Duration: x.took, Beside: StageDecide}
	} else {
		x.r, x.err = Anomalies(ctx, s.eng, s.res.Graph, s.opts.Baseline)
	}
	r, err := x.r, x.err
	if err != nil {
		return fmt.Errorf("rule packs: %w", err)
	}
	s.res.Anomalies = r
	return nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func (s *state) synthesize(ctx context.Context) error {
	ps, ds := synth.Policies(s.res.Graph, s.res.Decisions)
	s.res.Policies = ps
	s.res.Diagnostics = append(s.res.Diagnostics, ds...)
	// The packs' rules now live in the policies, as Cilium's types; their
	// JSON is not read again (--dump decisions stops before this stage),
	// and at 500k connections it held 74 MB through verify and replay.
	for _, pd := range s.res.Decisions.Policies {
		pd.Ingress, pd.Egress = nil, nil
	}
	for _, p := range ps {
		if err := s.target(p); err != nil {
			return err
		}
	}
	docs := make([]Doc, len(ps))
	errs := make([]error, len(ps))
	parallel.For(ctx, len(ps), func(i int) { docs[i], errs[i] = doc(ps[i]) })
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// From here on each policy is its document: verify, replay, lint
	// and the write read it.
	for _, p := range ps {
		p.DropSpecs()
	}
	s.res.Docs = append(s.res.Docs, docs...)
	return ctx.Err()
}

// doc encodes a synthesised policy as the document to verify and write.
func doc(p *synth.Policy) (Doc, error) {
	var err error
	d := Doc{Cluster: p.Cluster, APIVersion: p.CNP.APIVersion, Kind: p.CNP.Kind, Namespace: p.CNP.Namespace, Name: p.CNP.Name}
	switch {
	case p.CCNP != nil:
		d.JSON, err = synth.ClusterwideJSON(p.CCNP)
		d.Kind = p.CCNP.Kind
	case p.NP != nil:
		d.JSON, err = synth.NetworkPolicyJSON(p.NP)
		d.APIVersion, d.Kind = p.NP.APIVersion, p.NP.Kind
	default:
		d.JSON, err = synth.JSON(p.CNP)
	}
	if err != nil {
		return d, fmt.Errorf("encode %s: %w", p.Key, err)
	}
	return d, nil
}

// target translates p into a Kubernetes NetworkPolicy when the target asks
// for one: always with TargetKubernetes (each widened rule a warning),
// with TargetAuto only when nothing is widened.
func (s *state) target(p *synth.Policy) error {
	switch s.opts.Target {
	case "", synth.TargetCilium:
		return nil
	case synth.TargetKubernetes, synth.TargetAuto:
		if p.CCNP != nil {
			return nil // a clusterwide baseline has no NetworkPolicy form: it stays one
		}
	default:
		return fmt.Errorf("target %q: want %s, %s or %s", s.opts.Target, synth.TargetCilium, synth.TargetKubernetes, synth.TargetAuto)
	}
	np, widened, err := synth.NetworkPolicyOf(p)
	if err != nil {
		return err
	}
	if s.opts.Target == synth.TargetAuto && len(widened) > 0 {
		return nil
	}
	p.NP = np
	for _, w := range widened {
		d := ir.Warnf("ppc_target_widened", ir.Pos{}, "written as a NetworkPolicy, %s", w)
		d.Stage = string(StageSynthesize)
		d.Object = p.Key
		s.res.Diagnostics = append(s.res.Diagnostics, d)
	}
	return nil
}

func (s *state) verify(ctx context.Context) error {
	org, err := schemas.LoadOrgs(s.opts.Schemas)
	if err != nil {
		return err
	}
	v, err := verify.New(verify.Options{Agent: s.opts.Agent, PPC: true, Org: org})
	if err != nil {
		return err
	}
	objs := make([]verify.Object, len(s.res.Docs))
	for i, d := range s.res.Docs {
		objs[i] = verify.Object{JSON: d.JSON}
	}
	for _, ds := range v.VerifyAll(ctx, objs) {
		s.res.Diagnostics = append(s.res.Diagnostics, ds...)
	}
	return ctx.Err()
}

func (s *state) replay(context.Context) error {
	// Policies are replayed per cluster, each with its own cluster name
	// and enforced only at its own workloads, as each cluster's agents do.
	cs := s.res.ClusterSet()
	var probe *replay.ProbeOptions
	if !s.opts.NoProbe {
		probe = &replay.ProbeOptions{}
	}
	r, pr, err := cs.Run(s.res.Graph, s.opts.Agent, probe)
	if err != nil {
		return err
	}
	rep := &ReplayReport{Report: r, Probe: pr}
	for _, x := range r.Results {
		if x.Verdict.Allowed() {
			s.replayRequests(rep, x)
			continue
		}
		e := x.Edge
		if s.res.Decisions.Excluded[e.ID] != "" {
			rep.Excluded++
			continue
		}
		var where []string
		if x.Verdict.Egress.Decision == replay.Denied {
			where = append(where, "at the source's egress")
		}
		if x.Verdict.Ingress.Decision == replay.Denied {
			where = append(where, "at the destination's ingress")
		}
		d := ir.Errorf("ppc_replay_denied", firstPos(e), "observed connection %s would be denied %s", e.ID, strings.Join(where, " and "))
		d.Stage = string(StageReplay)
		d.Related = e.Samples
		s.res.Diagnostics = append(s.res.Diagnostics, d)
	}
	if probe != nil {
		if lp := replay.ProbeHTTP(r.Results); lp.Candidates > 0 {
			rep.L7Probe = lp
		}
	}
	s.res.Replay = rep
	return nil
}

// replayRequests checks every L7 request observed on an allowed
// connection against the rules of each point the proxy decides
// (replay.Requests): a request the proxy would refuse is an error, as a
// denied connection is.
func (s *state) replayRequests(rep *ReplayReport, x replay.Result) {
	for _, r := range replay.Requests(x) {
		rep.Requests++
		switch r.Decision {
		case replay.RequestAllowed:
			rep.RequestsAllowed++
		case replay.RequestUnknown:
			rep.RequestsUnknown++
		default:
			d := ir.Errorf("ppc_replay_l7_denied", firstPos(r.Edge), "observed %s on %s would be refused by the L7 proxy at %s: no rule there matches it", r.What, r.Edge.ID, strings.Join(r.RefusedAt, " and "))
			d.Stage = string(StageReplay)
			d.Related = r.Edge.Samples
			s.res.Diagnostics = append(s.res.Diagnostics, d)
		}
	}
}

func firstPos(e *ir.Edge) ir.Pos {
	if len(e.Samples) > 0 {
		return e.Samples[0]
	}
	return ir.Pos{}
}

// emit orders the documents by cluster, namespace and name (the order of
// the YAML stream and of every listing) and checks that each can be
// written as its own file: a name that would leave the output directory is
// an error, whatever the check that let it through.
func (s *state) emit(context.Context) error {
	sort.SliceStable(s.res.Docs, func(i, j int) bool {
		a, b := s.res.Docs[i], s.res.Docs[j]
		if a.Cluster != b.Cluster {
			return a.Cluster < b.Cluster
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	for _, d := range s.res.Docs {
		if d.Namespace != "" && !safeSegment(d.Namespace) || !safeSegment(d.Name) || d.Cluster != "" && !safeSegment(d.Cluster) {
			diag := ir.Errorf("ppc_emit_path", ir.Pos{}, "policy %q in namespace %q (cluster %q) cannot be written as a file: the name would leave the output directory", d.Name, d.Namespace, d.Cluster)
			diag.Stage = string(StageEmit)
			s.res.Diagnostics = append(s.res.Diagnostics, diag)
		}
	}
	ri := RecommendInput{Graph: s.res.Graph, Baseline: s.opts.Baseline, Anomalies: s.res.Anomalies}
	for _, d := range s.res.Docs {
		ri.Policies = append(ri.Policies, d.Object())
	}
	if s.res.Replay != nil {
		ri.Probe = s.res.Replay.Probe
	}
	s.res.Recommendations = Recommend(ri)
	return nil
}

// safeSegment rejects names that would escape the output directory. Names
// are DNS subdomains once verified; this guards the file system even so.
func safeSegment(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`+"\x00")
}

// lint gates the documents with the default lint pack and
// Options.Lint.Packs, each read from the path emit gave it and judged on
// the workloads of the flows it selects (LintView). The report is
// Result.Lint; its deny findings fail the compile (Result.Failed).
func (s *state) lint(ctx context.Context) error {
	packs, err := rules.LoadDirs(s.opts.Lint.Packs)
	if err != nil {
		return err
	}
	l, err := lint.New(ctx, lint.Options{Packs: packs, Namespace: "default", Timeout: s.opts.Lint.Timeout, Memory: s.opts.Lint.Memory,
		// Each workload of the flows is judged with every policy that
		// selects it, as Cilium enforces them.
		Select: func(rs []verify.Result) (*lint.View, error) { return LintView(s.res.Graph, rs, s.opts.Agent) }})
	if err != nil {
		return err
	}
	objs := make([]manifest.Object, len(s.res.Docs))
	for i, d := range s.res.Docs {
		objs[i] = d.Object()
	}
	rep, err := l.Lint(ctx, objs)
	if err != nil {
		return err
	}
	s.res.Lint = rep
	return nil
}

// Failed reports whether the output failed a check: an error diagnostic,
// or a deny finding of the lint gate. Nothing may be written then.
func (r *Result) Failed() bool {
	return r.Diagnostics.HasErrors() || r.Lint != nil && r.Lint.Count(lint.Deny) > 0
}
