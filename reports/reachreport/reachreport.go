// Package reachreport owns the output formats of ppc reach: who may reach
// whom on which ports under a policy set, as a text table, CSV, JSON,
// Markdown and a Mermaid graph.
package reachreport

import (
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/internal/textsafe"
	"github.com/policypilot/ppc/reports"
)

// Formats are ppc reach's -o values.
var Formats = reports.NewFormats[*compiler.ReachResult]().
	Register("text", text).
	Register("csv", writeCSV).
	Register("json", func(w io.Writer, r *compiler.ReachResult, _ reports.Options) error { return reports.WriteJSON(w, r) }).
	Register("md", markdown).
	Register("mermaid", mermaid)

func ports(p compiler.ReachPair) string {
	var s []string
	for _, x := range p.Allowed {
		s = append(s, x.String())
	}
	return strings.Join(s, " ")
}

func observed(p compiler.ReachPair) string {
	if p.Observed {
		return "observed"
	}
	return "not observed"
}

// all are the pairs with world's first.
func all(r *compiler.ReachResult) []compiler.ReachPair {
	return append(append([]compiler.ReachPair(nil), r.World...), r.Pairs...)
}

func text(w io.Writer, r *compiler.ReachResult, _ reports.Options) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FROM\tTO\tALLOWED\tIN THE FLOWS")
	for _, p := range all(r) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", textsafe.Line(p.Src), textsafe.Line(p.Dst), ports(p), observed(p))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	notObserved := 0
	for _, p := range r.Pairs {
		if !p.Observed {
			notObserved++
		}
	}
	if r.Method == "selectors" {
		fmt.Fprintf(w, "%d workloads (the pods the policies select by labels, on the ports their ingress rules name; --flows uses observed ones), %d policies loaded: %d pairs may connect", len(r.Workloads), r.Loaded, len(r.Pairs))
	} else {
		fmt.Fprintf(w, "%d workloads, %d policies loaded: %d pairs may connect, %d of them never seen in the flows", len(r.Workloads), r.Loaded, len(r.Pairs), notObserved)
	}
	if len(r.World) > 0 {
		fmt.Fprintf(w, "; world reaches %d workloads", len(r.World))
	}
	fmt.Fprintln(w)
	if r.Exposure {
		exposed := map[string][]string{}
		var dsts []string
		for _, p := range r.Pairs {
			if p.CrossNamespace {
				if exposed[p.Dst] == nil {
					dsts = append(dsts, p.Dst)
				}
				exposed[p.Dst] = append(exposed[p.Dst], p.Src)
			}
		}
		sort.Strings(dsts)
		fmt.Fprintf(w, "reachable from other namespaces: %d workloads\n", len(dsts))
		for _, d := range dsts {
			fmt.Fprintf(w, "  %s from %s\n", textsafe.Line(d), textsafe.Line(strings.Join(exposed[d], ", ")))
		}
	}
	return nil
}

func writeCSV(w io.Writer, r *compiler.ReachResult, _ reports.Options) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"from", "to", "protocol", "port", "observed"}); err != nil {
		return err
	}
	for _, p := range all(r) {
		for _, s := range p.Allowed {
			if err := cw.Write([]string{csvSafe(p.Src), csvSafe(p.Dst), s.Protocol, fmt.Sprint(s.Port), fmt.Sprint(p.Observed)}); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps a spreadsheet from reading a name as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func markdown(w io.Writer, r *compiler.ReachResult, _ reports.Options) error {
	fmt.Fprintln(w, "| from | to | allowed | in the flows |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, p := range all(r) {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", mdCell(p.Src), mdCell(p.Dst), mdCell(ports(p)), observed(p))
	}
	return nil
}

// mdCell escapes text for a Markdown table cell.
func mdCell(s string) string {
	r := strings.NewReplacer("|", `\|`, "`", "\\`", "<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`)
	return r.Replace(textsafe.Line(s))
}

func mermaid(w io.Writer, r *compiler.ReachResult, _ reports.Options) error {
	fmt.Fprintln(w, "graph LR")
	ids := map[string]string{}
	id := func(name string) string {
		if v, ok := ids[name]; ok {
			return v
		}
		v := fmt.Sprintf("n%d", len(ids))
		ids[name] = v
		fmt.Fprintf(w, "  %s[\"%s\"]\n", v, mermaidText(name))
		return v
	}
	for _, p := range all(r) {
		arrow := "-->"
		if !p.Observed {
			arrow = "-.->"
		}
		s, d := id(p.Src), id(p.Dst)
		fmt.Fprintf(w, "  %s %s|\"%s\"| %s\n", s, arrow, mermaidText(ports(p)), d)
	}
	return nil
}

// mermaidText escapes a label for Mermaid: quotes and markup become
// entities, so a label cannot close its string or inject a link.
func mermaidText(s string) string {
	r := strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;", "&", "#amp;", "|", "#124;", "`", "#96;")
	return r.Replace(textsafe.Line(s))
}
