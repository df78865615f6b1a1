package compiler

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/compiler/verify"
	"github.com/policypilot/ppc/ir"
)

// ManifestReplay is the replay of policies read from manifests (any
// policies: ppc's or hand-written) over learned connections.
type ManifestReplay struct {
	Report *replay.Report
	Probe  *replay.ProbeReport // nil without probe options
	// Invalid are the policies verification rejected: not loaded, as the
	// cluster would not enforce them.
	Invalid []verify.Result
	// Loaded counts the policies replayed.
	Loaded int
	// Clusters are the clusters replayed, each with its own agents (one
	// "" when the flows name at most one).
	Clusters []string
}

// ReplayManifests replays g's connections through Cilium's engine loaded
// with the valid policies of results, per cluster when the flows span
// several (ClusterMesh): a policy file under a directory named after one
// of the clusters (as compile -o writes them) belongs to that cluster; any
// other is applied in every cluster. With probe, it also probes for
// over-permission.
func ReplayManifests(g *ir.Graph, results []verify.Result, settings agent.Settings, probe *replay.ProbeOptions) (*ManifestReplay, error) {
	out := &ManifestReplay{Clusters: []string{""}}
	if cl := replay.Clusters(g); len(cl) > 1 {
		out.Clusters = cl
	}
	cs := replay.ClusterSet{Clusters: out.Clusters, Policies: make([][]replay.Policy, len(out.Clusters))}
	for _, x := range results {
		if !x.Valid() {
			out.Invalid = append(out.Invalid, x)
			continue
		}
		pol, err := replay.Decode(x.Object.Kind, x.Object.JSON)
		if err != nil {
			return nil, &InputError{Err: fmt.Errorf("%s: %w", x.Object.Where(), err)}
		}
		out.Loaded++
		owner := clusterOfPath(x.Object.Pos.File, cs.Clusters)
		for i, c := range cs.Clusters {
			if owner == "" || owner == c {
				cs.Policies[i] = append(cs.Policies[i], pol)
			}
		}
	}
	var err error
	if out.Report, out.Probe, err = cs.Run(g, settings, probe); err != nil {
		return nil, err
	}
	return out, nil
}

// clusterOfPath is the cluster a policy file belongs to: the innermost
// directory of its path named after one of clusters ("" if none).
func clusterOfPath(file string, clusters []string) string {
	dirs := strings.Split(filepath.ToSlash(filepath.Dir(file)), "/")
	for i := len(dirs) - 1; i >= 0; i-- {
		for _, c := range clusters {
			if c != "" && dirs[i] == c {
				return c
			}
		}
	}
	return ""
}
