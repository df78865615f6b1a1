package explain

import (
	"fmt"
	"strings"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/reports"
)

// FromCompile is the report input of a compile: the compiled policies
// (all valid: compile emits nothing otherwise), the replay and the probe
// of its replay stage, and the connections the rule packs excluded.
func FromCompile(res *compiler.Result, title string, flows []string) (*Input, error) {
	in := &Input{
		Title:  title,
		Source: fmt.Sprintf("Policies compiled by ppc from %s, proved with Cilium's validation and policy engine (cluster %q).", strings.Join(flows, ", "), res.Agent.ClusterName),
		Graph:  res.Graph, Files: res.Summary.Files,
	}
	// The packs' warnings, under the policy they concern (by its key).
	notes := map[string][]string{}
	if res.Decisions != nil {
		in.Excluded = res.Decisions.Excluded
		for _, w := range res.Decisions.Warnings {
			if w.Policy == "" {
				in.Notes = append(in.Notes, w.Msg)
			} else {
				notes[w.Policy] = append(notes[w.Policy], w.Msg)
			}
		}
	}
	keys := map[[3]string]string{}
	for _, p := range res.Policies {
		keys[[3]string{p.Cluster, p.CNP.Namespace, p.CNP.Name}] = p.Key
	}
	if res.Replay != nil {
		in.Replay, in.Probe = res.Replay.Report, res.Replay.Probe
	}
	for _, d := range res.Docs {
		y, err := reports.YAML(d)
		if err != nil {
			return nil, err
		}
		name := d.Name
		if d.Namespace != "" {
			name = d.Namespace + "/" + d.Name
		}
		in.Policies = append(in.Policies, Policy{Name: name, Kind: "CiliumNetworkPolicy", YAML: y, Notes: notes[keys[[3]string{d.Cluster, d.Namespace, d.Name}]]})
	}
	return in, nil
}
