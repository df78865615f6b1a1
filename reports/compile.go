package reports

import (
	"fmt"
	"io"
	"time"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/internal/textsafe"
	"github.com/policypilot/ppc/ir"
)

// This file holds the text ppc learn and ppc compile print on stderr: the
// summary of a compile, its stage timings, what was written to an output
// directory, and the warnings of a run that follows a Hubble server.

// PrintCompileSummary prints what a compile read, decided and proved: the
// records and connections, the policies and their rules, the verification
// layers they passed, the replay's verdicts and the probe's over-allow.
func PrintCompileSummary(w io.Writer, res *compiler.Result) {
	g := res.Graph
	if g == nil {
		return
	}
	fmt.Fprintf(w, "ppc: read %d records from %d files: %d flows became %d connections between %d endpoints\n",
		g.Stats.Records, res.Summary.Files, g.Stats.Flows, len(g.Edges), len(g.Nodes))
	if l := AnomalyLine(res.Anomalies); l != "" {
		defer fmt.Fprintln(w, l)
	}
	PrintSkipped(w, g.Stats.Skipped)
	if res.Decisions == nil || res.Completed == compiler.StageNormalize {
		return
	}
	var in, out int
	for _, p := range res.Policies {
		in += p.IngressRules
		out += p.EgressRules
	}
	if res.Policies != nil || res.Completed != compiler.StageDecide {
		fmt.Fprintf(w, "ppc: %d policies (%d ingress rules, %d egress rules)", len(res.Policies), in, out)
		if res.Completed == compiler.StageVerify || res.Replay != nil || res.Completed == compiler.StageEmit || res.Completed == compiler.StageLint {
			cnp := 0
			for _, d := range res.Docs {
				if d.Kind == "CiliumNetworkPolicy" {
					cnp++
				}
			}
			if cnp == len(res.Docs) {
				fmt.Fprintf(w, "; all passed the API server's schema, the Cilium agent's parser and ppc's CUE checks")
			} else {
				// ppc's CUE schema describes the CiliumNetworkPolicies it
				// writes; NetworkPolicies and clusterwide baselines are
				// held to the API server's checks, the agent and replay.
				fmt.Fprintf(w, "; all passed the API server's schema and the Cilium agent's parser (%d CiliumNetworkPolicies ppc's CUE checks too)", cnp)
			}
		}
		fmt.Fprintln(w)
	}
	if r := res.Replay; r != nil {
		fmt.Fprintf(w, "ppc: replay: Cilium's policy engine allows %d of %d observed connections (%d of %d flows)", r.Allowed, r.Connections, r.AllowedFlows, r.Flows)
		if r.Proxied > 0 {
			fmt.Fprintf(w, " (%d through the L7 proxy)", r.Proxied)
		}
		if r.Excluded > 0 {
			fmt.Fprintf(w, "; %d denied as the rule packs decided", r.Excluded)
		}
		if d := r.Denied - r.Excluded; d > 0 {
			fmt.Fprintf(w, "; %d DENIED", d)
		}
		fmt.Fprintln(w)
		if r.Requests > 0 {
			fmt.Fprintf(w, "ppc: replay: the L7 rules allow %d of %d observed HTTP requests and DNS lookups", r.RequestsAllowed, r.Requests)
			if r.RequestsUnknown > 0 {
				fmt.Fprintf(w, "; %d only host or header rules could allow (not recorded in the flows)", r.RequestsUnknown)
			}
			if d := r.Requests - r.RequestsAllowed - r.RequestsUnknown; d > 0 {
				fmt.Fprintf(w, "; %d would be refused", d)
			}
			fmt.Fprintln(w)
		}
		if r.Probe != nil {
			PrintProbeLine(w, r.Probe)
		}
		if lp := r.L7Probe; lp != nil {
			fmt.Fprintf(w, "ppc: probe: the HTTP rules admit %d of %d requests never observed (other methods, a new value in each path segment, one segment deeper)", lp.Allowed, lp.Candidates)
			if len(lp.Examples) > 0 {
				fmt.Fprintf(w, ", e.g. %s", textsafe.Line(lp.Examples[0]))
			}
			fmt.Fprintln(w)
		}
	}
}

// AnomalyLine is the one-line summary of the findings for the end of ppc learn
// and ppc compile: how many, and the top one ("" when none ran).
func AnomalyLine(r *compiler.AnomalyReport) string {
	if r == nil {
		return ""
	}
	if len(r.Findings) == 0 {
		return "ppc: anomalies: none found"
	}
	top := r.Findings[0]
	return fmt.Sprintf("ppc: anomalies: %d findings, %d scored %d or more; top [%g %s] %s (ppc explain lists them)",
		len(r.Findings)+r.Omitted, r.AtLeast(compiler.HighScore), compiler.HighScore, top.Score, top.Detector, textsafe.Line(top.Msg))
}

// PrintRebase says what compile --base did to the base directory.
func PrintRebase(w io.Writer, rb *compiler.Rebased, base string) {
	verb := "marked"
	if rb.Pruned > 0 {
		verb = "pruned"
	}
	fmt.Fprintf(w, "ppc: base %s: %d rules added to ppc's policies, %d new policies, %d hand-written policies kept as they are, %d stale rules %s\n",
		textsafe.Line(base), rb.AddedRules, rb.NewPolicies, len(rb.Kept), rb.Stale+rb.Pruned, verb)
}

// PrintTimings prints how long each stage took, one per line.
func PrintTimings(w io.Writer, ts []compiler.Timing) {
	for _, t := range ts {
		fmt.Fprintf(w, "%-11s %s", t.Stage, t.Duration.Round(time.Microsecond))
		if t.Beside != "" {
			fmt.Fprintf(w, " (beside %s)", t.Beside)
		}
		if t.Note != "" {
			fmt.Fprintf(w, " (%s)", t.Note)
		}
		fmt.Fprintln(w)
	}
}

// PrintDryRun lists what WriteDir would write and remove (--dry-run), one
// "write PATH" or "remove PATH" line each.
func PrintDryRun(w io.Writer, r *DirResult, cwd string) {
	for _, f := range append(append([]string(nil), r.Written...), r.Kustomizations...) {
		fmt.Fprintf(w, "write %s\n", textsafe.Line(RelPath(f, cwd)))
	}
	for _, f := range r.Removed {
		fmt.Fprintf(w, "remove %s\n", textsafe.Line(RelPath(f, cwd)))
	}
}

// PrintWritten says what WriteDir wrote under dir and which files of an
// earlier run it removed.
func PrintWritten(w io.Writer, r *DirResult, dir, cwd string) {
	fmt.Fprintf(w, "ppc: wrote %d policies under %s\n", len(r.Written), textsafe.Line(dir))
	if len(r.Removed) > 0 {
		fmt.Fprintf(w, "ppc: removed %d files ppc wrote in an earlier run that this run no longer produces:\n", len(r.Removed))
		for _, f := range r.Removed {
			fmt.Fprintf(w, "  %s\n", textsafe.Line(RelPath(f, cwd)))
		}
	}
}

// PrintRound says what one round of compile --follow changed in the
// directory (quiet: nothing when it changed nothing).
func PrintRound(w io.Writer, round int, r *DirResult, g *ir.Graph, quiet bool, cwd string) {
	if len(r.Changed) == 0 && len(r.Removed) == 0 {
		if !quiet {
			fmt.Fprintf(w, "ppc compile: round %d: %d policies, no change\n", round, len(r.Written))
		}
		return
	}
	fmt.Fprintf(w, "ppc compile: round %d: %d policies; %d files written, %d removed%s:\n", round, len(r.Written), len(r.Changed), len(r.Removed), LostEvents(g))
	for _, f := range r.Changed {
		fmt.Fprintf(w, "  wrote   %s\n", textsafe.Line(RelPath(f, cwd)))
	}
	for _, f := range r.Removed {
		fmt.Fprintf(w, "  removed %s\n", textsafe.Line(RelPath(f, cwd)))
	}
}

// SnapshotLine is learn --follow's line for a snapshot written to path
// (the round's number, what it holds, the gaps warned about so far).
func SnapshotLine(round int, g *ir.Graph, gaps int, path string) string {
	s := fmt.Sprintf("ppc: snapshot %d: %d flows, %d connections between %d endpoints%s", round, g.Stats.Flows, len(g.Edges), len(g.Nodes), LostEvents(g))
	if gaps > 0 {
		s += fmt.Sprintf("; %d gaps in what the server could give (warned above)", gaps)
	}
	return s + " -> " + textsafe.Line(path)
}

// GapWarning is the warning for a stretch of time whose flows the server
// could not give.
func GapWarning(g compiler.Gap) string {
	return fmt.Sprintf("warning: flows from %s to %s are missing: %s", g.From.UTC().Format(time.RFC3339), g.To.UTC().Format(time.RFC3339), textsafe.Line(g.Msg))
}

// RetryWarning is the warning for a Hubble connection that failed and is
// tried again after wait.
func RetryWarning(err error, wait time.Duration) string {
	return fmt.Sprintf("warning: %s: retrying in %s", textsafe.Line(err.Error()), wait)
}

// LostEvents says how many lost-events records Hubble sent: flows it
// dropped (a full ring buffer, a slow reader) before ppc could read them.
func LostEvents(g *ir.Graph) string {
	if n := g.Stats.Skipped["non-flow record: lost_events"]; n > 0 {
		return fmt.Sprintf("; Hubble reported lost events %d times (flows dropped before ppc read them)", n)
	}
	return ""
}
