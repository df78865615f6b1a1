package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/flows"
	"github.com/policypilot/ppc/compiler/lower"
	"github.com/policypilot/ppc/internal/app"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/rules"
)

// Flag names shared by commands.
const (
	flagNamespace        = "namespace"
	flagExcludeNamespace = "exclude-namespace"
	flagIncludeDenied    = "include-denied"
	flagMaxErrors        = "max-errors"
	flagMaxRecordSize    = "max-record-size"
	flagClusterName      = "cluster-name"
)

// readFlags are the flags of every command that reads flows: what to
// keep, how much bad input to tolerate, and the Hubble server.
type readFlags struct {
	namespaces, exclude []string
	maxErrors           int
	maxRecordMiB        int
	hubble              hubbleFlags
}

// register adds the flags; verb says what the command does with a
// connection ("learn", "replay").
func (f *readFlags) register(fs *pflag.FlagSet, verb string) {
	fs.StringArrayVarP(&f.namespaces, flagNamespace, "n", nil, "only "+verb+" connections with a workload in this namespace (repeatable)")
	fs.StringArrayVar(&f.exclude, flagExcludeNamespace, nil, "ignore connections whose workloads are all in this namespace (repeatable)")
	fs.IntVar(&f.maxErrors, flagMaxErrors, 0, "tolerate up to N malformed records (reported and skipped) before failing")
	fs.IntVar(&f.maxRecordMiB, flagMaxRecordSize, flows.MaxRecordSize>>20, "fail on a flow record (a line, or one object) larger than `MiB`: bounds memory on hostile input")
	f.hubble.register(fs)
}

// learnOptions validates the flags and returns the options that learn the
// flows with lowering options lo (whose namespace filters it sets).
func (f *readFlags) learnOptions(o app.IO, lo lower.Options) (compiler.LearnOptions, error) {
	if f.maxErrors < 0 {
		return compiler.LearnOptions{}, usageErr("--%s must be >= 0", flagMaxErrors)
	}
	if err := checkRecordSize(f.maxRecordMiB); err != nil {
		return compiler.LearnOptions{}, err
	}
	live, err := f.hubble.options(f.namespaces, time.Now())
	if err != nil {
		return compiler.LearnOptions{}, err
	}
	lo.Namespaces, lo.ExcludeNamespaces = f.namespaces, f.exclude
	return compiler.LearnOptions{Lower: lo, MaxErrors: f.maxErrors, MaxRecordSize: f.maxRecordMiB << 20, Stdin: o.Stdin, Hubble: live}, nil
}

// ingestFlags are the flags of the commands that learn policies from flows.
type ingestFlags struct {
	readFlags
	includeDenied bool
}

func (f *ingestFlags) register(fs *pflag.FlagSet) {
	f.readFlags.register(fs, "learn")
	fs.BoolVar(&f.includeDenied, flagIncludeDenied, false, "learn from flows dropped by policy (POLICY_DENIED) too: the audit-mode workflow")
}

func (f *ingestFlags) options(o app.IO) (compiler.LearnOptions, error) {
	return f.learnOptions(o, lower.Options{IncludeDenied: f.includeDenied})
}

// boundFlags bound the evaluation of rule packs: --rule-timeout and
// --rule-memory.
type boundFlags struct {
	timeout   time.Duration
	memoryMiB uint64
}

// register adds the flags; what says what one evaluation is.
func (b *boundFlags) register(fs *pflag.FlagSet, what string) {
	fs.DurationVar(&b.timeout, "rule-timeout", rules.DefaultTimeout, "stop the evaluation of "+what+" after `DURATION`")
	fs.Uint64Var(&b.memoryMiB, "rule-memory", rules.DefaultMemoryLimit>>20, "stop the evaluation of "+what+" when the heap passes `MiB`")
}

// bounds returns the flags' values, validated.
func (b *boundFlags) bounds() (rules.Bounds, error) {
	if b.timeout <= 0 {
		return rules.Bounds{}, usageErr("--rule-timeout must be positive")
	}
	if b.memoryMiB == 0 || b.memoryMiB > 1<<20 {
		return rules.Bounds{}, usageErr("--rule-memory must be between 1 and 1048576 (MiB)")
	}
	return rules.Bounds{Timeout: b.timeout, Memory: b.memoryMiB << 20}, nil
}

// checkRecordSize validates --max-record-size.
func checkRecordSize(mib int) error {
	if mib < 1 || mib > 4096 {
		return usageErr("--%s must be between 1 and 4096 (MiB)", flagMaxRecordSize)
	}
	return nil
}

// agentFlags select the Cilium agent settings verification and replay use.
type agentFlags struct {
	s            agent.Settings
	fs           *pflag.FlagSet
	localCluster bool
}

// clusterSet reports whether --cluster-name was given; if not, compile
// takes the name from the flows' cluster labels.
func (f *agentFlags) clusterSet() bool {
	return f.fs != nil && f.fs.Changed(flagClusterName)
}

func (f *agentFlags) register(fs *pflag.FlagSet) {
	f.fs = fs
	f.s = agent.Defaults()
	f.s.ClusterName = ""
	fs.StringVar(&f.s.ClusterName, flagClusterName, "", "the cluster's name (Cilium --cluster-name; default: the name in the flows' cluster labels, else \"default\")")
	fs.BoolVar(&f.s.EnableNodeSelectorLabels, "enable-node-selector-labels", f.s.EnableNodeSelectorLabels, "as the agent flag: allow fromNodes/toNodes")
	fs.BoolVar(&f.s.EnableExtendedIPProtocols, "enable-extended-ip-protocols", f.s.EnableExtendedIPProtocols, "as the agent flag: allow port-less VRRP, IGMP, … rules")
	fs.BoolVar(&f.s.EnableL7Proxy, "enable-l7-proxy", f.s.EnableL7Proxy, "as the agent flag: allow L7 rules")
	fs.BoolVar(&f.localCluster, "policy-default-local-cluster", true, "as the agent flag: selectors without a cluster label select only the local cluster (ClusterMesh)")
}

func (f *agentFlags) settings() (agent.Settings, error) {
	s := f.s
	s.PolicyAnyCluster = !f.localCluster
	if s.ClusterName == "" {
		if f.clusterSet() {
			return s, fmt.Errorf("--%s must not be empty", flagClusterName)
		}
		s.ClusterName = agent.Defaults().ClusterName
	}
	return s, nil
}

// anomalyFlags configure the anomaly detectors of learn, compile and
// explain: a baseline to compare with, a CI gate, or none at all.
type anomalyFlags struct {
	baseline string
	none     bool
	failOn   float64
	fs       *pflag.FlagSet
}

func (f *anomalyFlags) register(fs *pflag.FlagSet) {
	f.fs = fs
	fs.StringVar(&f.baseline, "baseline", "", "compare the traffic with an earlier snapshot in `FILE` (an IR from ppc learn, or flows): new connections and namespaces become anomalies")
	fs.BoolVar(&f.none, "no-anomalies", false, "skip the anomaly detectors")
	fs.Float64Var(&f.failOn, "fail-on-anomaly", 0, "exit 1 when an anomaly scores `SCORE` (0-100) or more")
}

// gating reports whether --fail-on-anomaly was given.
func (f *anomalyFlags) gating() bool { return f.fs != nil && f.fs.Changed("fail-on-anomaly") }

// check validates the flags.
func (f *anomalyFlags) check() error {
	switch {
	case f.gating() && (f.failOn < 0 || f.failOn > 100):
		return usageErr("--fail-on-anomaly must be between 0 and 100")
	case f.none && (f.gating() || f.baseline != ""):
		return usageErr("--no-anomalies skips the detectors: --fail-on-anomaly and --baseline do not apply")
	}
	return nil
}

// load reads the baseline (nil without --baseline).
func (f *anomalyFlags) load(ctx context.Context, o app.IO) (*ir.Graph, error) {
	if f.baseline == "" {
		return nil, nil
	}
	return compiler.ReadBaseline(ctx, f.baseline, compiler.LearnOptions{Stdin: o.Stdin})
}

// gate is --fail-on-anomaly.
func (f *anomalyFlags) gate() app.AnomalyGate {
	return app.AnomalyGate{On: f.gating(), FailOn: f.failOn}
}
