package explain

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/compiler/verify"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/reports"
	"github.com/policypilot/ppc/reports/anomalyreport"
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
	in.Anomalies, in.Recommendations = res.Anomalies, res.Recommendations
	for _, d := range res.Docs {
		y, err := reports.YAML(d)
		if err != nil {
			return nil, err
		}
		name := d.Name
		if d.Namespace != "" {
			name = d.Namespace + "/" + d.Name
		}
		in.Policies = append(in.Policies, Policy{Name: name, Kind: d.Kind, YAML: y, Notes: notes[keys[[3]string{d.Cluster, d.Namespace, d.Name}]]})
	}
	results := make([]verify.Result, len(res.Docs))
	for i, d := range res.Docs {
		results[i] = verify.Result{Object: d.Object()}
	}
	var err error
	if in.Reach, err = reach(res.Graph, results, res.Agent); err != nil {
		return nil, err
	}
	return in, nil
}

// reach is the reachability section's matrix, with world's exposure; nil
// for a graph of more than MaxReachWorkloads workloads or policies that
// span clusters (each cluster has its own).
func reach(g *ir.Graph, results []verify.Result, settings agent.Settings) (*compiler.ReachResult, error) {
	if g == nil || len(results) == 0 || len(replay.Clusters(g)) > 1 {
		return nil, nil
	}
	n := 0
	for _, node := range g.Nodes {
		if node.Kind == ir.KindWorkload {
			n++
		}
	}
	if n == 0 || n > MaxReachWorkloads {
		return nil, nil
	}
	return compiler.Reach(g, results, settings, compiler.ReachOptions{Exposure: true})
}

// Replayed describes a replay of policies read from files (ppc explain
// POLICY_PATH...): the flows learned, and the policies verified and
// replayed over them.
type Replayed struct {
	Title    string
	Policies []string // the policy paths given
	Flows    []string // the flow paths given
	Learned  *compiler.Result
	Cluster  string // the cluster(s) replayed
	Agent    agent.Settings
	Replay   *compiler.PolicyReplay
	// Cwd: policy files below it are shown relative to it.
	Cwd string
	// Anomalies are the anomaly detectors' findings (nil: not run);
	// Baseline the snapshot they were compared with (for the
	// recommendations; nil: none).
	Anomalies *compiler.AnomalyReport
	Baseline  *ir.Graph
}

// FromReplay is the report input of a replay: every policy of the set
// with its verification errors (an invalid one was not loaded), the
// replay and the probe.
func FromReplay(r Replayed) (*Input, error) {
	in := &Input{
		Title:  r.Title,
		Source: fmt.Sprintf("%d policies from %s, replayed against %s with Cilium's policy engine (cluster %q).", len(r.Replay.Verified), strings.Join(r.Policies, ", "), strings.Join(r.Flows, ", "), r.Cluster),
		Graph:  r.Learned.Graph, Files: r.Learned.Summary.Files, Replay: r.Replay.Report, Probe: r.Replay.Probe,
		Anomalies: r.Anomalies, Cwd: r.Cwd,
	}
	ri := compiler.RecommendInput{Graph: r.Learned.Graph, Baseline: r.Baseline, Probe: r.Replay.Probe, Anomalies: r.Anomalies}
	for _, x := range r.Replay.Verified {
		ri.Policies = append(ri.Policies, x.Object)
	}
	in.Recommendations = compiler.Recommend(ri)
	for _, x := range r.Replay.Verified {
		o := x.Object
		name := o.Name
		if o.Namespace != "" {
			name = o.Namespace + "/" + o.Name
		}
		y, err := reports.YAML(reports.Doc{Namespace: o.Namespace, Name: o.Name, JSON: o.JSON})
		if err != nil {
			return nil, err
		}
		pol := Policy{Name: name, Kind: o.Kind, File: reports.RelPos(o.Pos, r.Cwd), YAML: y}
		for _, d := range x.Diagnostics {
			if d.Severity == ir.Error {
				pol.Errors = append(pol.Errors, verify.Describe(d))
			}
		}
		in.Policies = append(in.Policies, pol)
	}
	var err error
	if in.Reach, err = reach(r.Learned.Graph, r.Replay.Verified, r.Agent); err != nil {
		return nil, err
	}
	return in, nil
}

// FormatOf is the report format for path: format when given (html, md,
// json or sarif), else the one its extension names (.html, .md, .json,
// .sarif; no extension: html). json and sarif hold the anomalies and
// recommendations only (for CI).
func FormatOf(path, format string) (string, error) {
	if format == "" {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".md", ".markdown":
			format = "md"
		case ".html", ".htm", "":
			format = "html"
		case ".json":
			format = "json"
		case ".sarif":
			format = "sarif"
		default:
			return "", fmt.Errorf("cannot tell the report format from %q: name it .html, .md, .json or .sarif, or give --format", path)
		}
	}
	switch format {
	case "html", "md", "json", "sarif":
		return format, nil
	}
	return "", fmt.Errorf("--format %q: want html, md, json or sarif", format)
}

// Render renders in as format (html, md, or json and sarif for the
// anomalies and recommendations).
func Render(in *Input, format string) ([]byte, error) {
	switch format {
	case "md":
		return Markdown(in)
	case "json", "sarif":
		var b bytes.Buffer
		err := anomalyreport.Formats.Write(&b, format, anomalyreport.Report{Anomalies: in.Anomalies, Recommendations: in.Recommendations}, reports.Options{Cwd: in.Cwd})
		return b.Bytes(), err
	}
	return HTML(in)
}
