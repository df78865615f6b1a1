// Package diffreport owns the output formats of ppc diff: text for a
// terminal, Markdown for a pull-request comment, and JSON.
package diffreport

import (
	"fmt"
	"io"
	"strings"

	"github.com/policypilot/ppc/compiler/policydiff"
	"github.com/policypilot/ppc/compiler/replay"
	"github.com/policypilot/ppc/internal/textsafe"
	"github.com/policypilot/ppc/reports"
)

// Diff is what ppc diff reports.
type Diff struct {
	Old, New string // the two sets as given
	*policydiff.Result
	// Names shows a connection's endpoints (ir.Graph.DisplayNames).
	Names map[string]string
	// ProbeOld and ProbeNew are the least-privilege probe of each set
	// (with flows): its over-allow before and after.
	ProbeOld, ProbeNew *replay.ProbeReport
}

// Formats are ppc diff's -o values.
var Formats = reports.NewFormats[*Diff]().
	Register("text", text).
	Register("md", markdown).
	Register("json", func(w io.Writer, d *Diff, _ reports.Options) error {
		return reports.WriteJSON(w, struct {
			Old string `json:"old"`
			New string `json:"new"`
			*policydiff.Result
			ProbeOld *replay.ProbeReport `json:"probeOld,omitempty"`
			ProbeNew *replay.ProbeReport `json:"probeNew,omitempty"`
		}{d.Old, d.New, d.Result, d.ProbeOld, d.ProbeNew})
	})

func text(w io.Writer, d *Diff, _ reports.Options) error {
	for _, p := range d.Policies {
		where := p.New
		if where == "" {
			where = p.Old
		}
		fmt.Fprintf(w, "%s %s  (%s)\n", strings.ToUpper(string(p.Status)), textsafe.Line(p.ID()), textsafe.Line(where))
		for _, s := range p.Settings {
			fmt.Fprintf(w, "  ~ %s\n", textsafe.Line(s))
		}
		for _, r := range p.RemovedRules {
			fmt.Fprintf(w, "  - %s %s\n", r.Section, ruleText(r))
		}
		for _, r := range p.AddedRules {
			fmt.Fprintf(w, "  + %s %s\n", r.Section, ruleText(r))
		}
	}
	name := func(id string) string {
		if n, ok := d.Names[id]; ok {
			return textsafe.Line(n)
		}
		return textsafe.Line(id)
	}
	for _, v := range d.Verdicts {
		change := "NEWLY DENIED"
		if v.NowAllowed {
			change = "NEWLY ALLOWED"
		}
		fmt.Fprintf(w, "%-13s %s -> %s %s/%d  %d flows\n", change, name(v.Src), name(v.Dst), v.Proto, v.Port, v.Flows)
		fmt.Fprintf(w, "    before: %s; %s\n", replayPoint("egress", v.Old.Egress), replayPoint("ingress", v.Old.Ingress))
		fmt.Fprintf(w, "    after:  %s; %s\n", replayPoint("egress", v.New.Egress), replayPoint("ingress", v.New.Ingress))
	}
	fmt.Fprintln(w, summary(d))
	if line := probeLine(d); line != "" {
		fmt.Fprintln(w, "ppc diff: "+line)
	}
	return nil
}

// probeLine compares the sets' over-allow ("" without flows).
func probeLine(d *Diff) string {
	if d.ProbeOld == nil || d.ProbeNew == nil {
		return ""
	}
	return fmt.Sprintf("probe: over-allow %.2f%% before (%d of %d unobserved connections), %.2f%% after (%d of %d)",
		100*d.ProbeOld.Ratio, d.ProbeOld.Allowed, d.ProbeOld.Checked, 100*d.ProbeNew.Ratio, d.ProbeNew.Allowed, d.ProbeNew.Checked)
}

// markdown is the diff as a pull-request comment: the summary, each
// changed policy's rules as a diff block, and the connections whose
// verdict changes in a table.
func markdown(w io.Writer, d *Diff, _ reports.Options) error {
	fmt.Fprintf(w, "### ppc diff: %s → %s\n\n%s\n", mdText(d.Old), mdText(d.New), mdText(strings.TrimPrefix(summary(d), "ppc diff: ")))
	if line := probeLine(d); line != "" {
		fmt.Fprintf(w, "\n%s\n", mdText(line))
	}
	for _, p := range d.Policies {
		where := p.New
		if where == "" {
			where = p.Old
		}
		fmt.Fprintf(w, "\n#### %s `%s`\n\n%s\n\n", strings.ToLower(string(p.Status)), mdCode(p.ID()), mdText(where))
		if len(p.Settings)+len(p.RemovedRules)+len(p.AddedRules) == 0 {
			continue
		}
		fmt.Fprintln(w, "```diff")
		for _, s := range p.Settings {
			fmt.Fprintf(w, "! %s\n", fence(s))
		}
		for _, r := range p.RemovedRules {
			fmt.Fprintf(w, "- %s %s\n", r.Section, fence(ruleText(r)))
		}
		for _, r := range p.AddedRules {
			fmt.Fprintf(w, "+ %s %s\n", r.Section, fence(ruleText(r)))
		}
		fmt.Fprintln(w, "```")
	}
	if len(d.Verdicts) > 0 {
		fmt.Fprintf(w, "\n#### Connections whose verdict changes\n\n| change | from | to | port | flows |\n|---|---|---|---|---:|\n")
		for _, v := range d.Verdicts {
			change := "newly denied"
			if v.NowAllowed {
				change = "newly allowed"
			}
			src, dst := v.Src, v.Dst
			if n, ok := d.Names[src]; ok {
				src = n
			}
			if n, ok := d.Names[dst]; ok {
				dst = n
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s/%d | %d |\n", change, mdText(src), mdText(dst), v.Proto, v.Port, v.Flows)
		}
	}
	return nil
}

// mdText escapes text from the cluster for Markdown (and the HTML GitHub
// renders in comments).
func mdText(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "|", `\|`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "<", "&lt;", ">", "&gt;", "#", `\#`, "@", `\@`)
	return r.Replace(textsafe.Line(s))
}

// mdCode is text for an inline code span: a backtick cannot close it.
func mdCode(s string) string { return strings.ReplaceAll(textsafe.Line(s), "`", "'") }

// fence is text inside a fenced block: a line cannot close the fence.
func fence(s string) string { return strings.ReplaceAll(textsafe.Line(s), "```", "'''") }

// ruleText is a rule's canonical JSON, with its selector when that is not
// a policy's only one.
func ruleText(r policydiff.Rule) string {
	return textsafe.Line(r.Rule) + "  [" + textsafe.Line(r.Selector) + "]"
}

func replayPoint(where string, p replay.Point) string {
	s := where + " " + p.Decision.String()
	if len(p.By()) > 0 {
		var by []string
		for _, r := range p.By() {
			by = append(by, textsafe.Line(r.String()))
		}
		s += " by " + strings.Join(by, ", ")
	}
	return s
}

// summary is the last line: counts of policies and connections.
func summary(d *Diff) string {
	n := map[policydiff.Status]int{}
	for _, p := range d.Policies {
		n[p.Status]++
	}
	s := fmt.Sprintf("ppc diff: %d policies added, %d removed, %d changed, %d unchanged", n[policydiff.Added], n[policydiff.Removed], n[policydiff.Changed], d.Unchanged)
	if d.Replayed > 0 {
		allowed := 0
		for _, v := range d.Verdicts {
			if v.NowAllowed {
				allowed++
			}
		}
		s += fmt.Sprintf("; of %d observed connections %d newly allowed, %d newly denied", d.Replayed, allowed, len(d.Verdicts)-allowed)
	}
	return s
}
