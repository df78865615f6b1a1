package replay

import (
	"sort"

	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/ir"
)

// Clusters are the cluster names g's workloads carry
// (io.cilium.k8s.policy.cluster), sorted.
func Clusters(g *ir.Graph) []string {
	seen := map[string]bool{}
	for _, n := range g.Nodes {
		if c := ClusterOf(n); c != "" && n.Kind == ir.KindWorkload {
			seen[c] = true
		}
	}
	out := make([]string, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// ClusterSet is a policy set per cluster: Clusters[i]'s agents enforce
// Policies[i]. A single cluster named "" is the plain case: one engine
// with the settings' cluster name, enforcing at every workload.
type ClusterSet struct {
	Clusters []string
	Policies [][]Policy
}

// Run replays g through one engine per cluster, each named after its
// cluster and enforcing only at that cluster's workloads, as a
// ClusterMesh's agents do, and merges the verdicts (see Merge). With
// probe set it also runs the least-privilege probe (see ProbeClusters).
func (cs ClusterSet) Run(g *ir.Graph, s agent.Settings, probe *ProbeOptions) (*Report, *ProbeReport, error) {
	var reps []*Report
	var engines []*Engine
	for i, c := range cs.Clusters {
		settings := s
		if c != "" {
			settings.ClusterName = c
		}
		eng, err := New(settings)
		if err != nil {
			return nil, nil, err
		}
		if c != "" {
			eng.EnforceOnly(c)
		}
		if err := eng.Load(cs.Policies[i]); err != nil {
			return nil, nil, err
		}
		if err := eng.AddGraph(g); err != nil {
			return nil, nil, err
		}
		r, err := eng.Replay(g)
		if err != nil {
			return nil, nil, err
		}
		reps = append(reps, r)
		engines = append(engines, eng)
	}
	if len(reps) == 0 {
		return &Report{}, nil, nil
	}
	r := reps[0]
	if len(cs.Clusters) > 1 || cs.Clusters[0] != "" {
		r = Merge(cs.Clusters, reps)
	}
	if probe == nil {
		return r, nil, nil
	}
	p, err := ProbeClusters(g, *probe, cs.Clusters, engines)
	return r, p, err
}
