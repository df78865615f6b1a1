// Package diffreport owns the output formats of ppc diff: text, for a
// terminal or a pull request comment, and JSON.
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
}

// Formats are ppc diff's -o values.
var Formats = reports.NewFormats[*Diff]().
	Register("text", text).
	Register("json", func(w io.Writer, d *Diff, _ reports.Options) error {
		return reports.WriteJSON(w, struct {
			Old string `json:"old"`
			New string `json:"new"`
			*policydiff.Result
		}{d.Old, d.New, d.Result})
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
	return nil
}

// ruleText is a rule's canonical JSON, with its selector when that is not
// a policy's only one.
func ruleText(r policydiff.Rule) string {
	return textsafe.Line(r.Rule) + "  [" + textsafe.Line(r.Selector) + "]"
}

func replayPoint(where string, p replay.Point) string {
	s := where + " " + p.Decision.String()
	if len(p.By) > 0 {
		var by []string
		for _, r := range p.By {
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
