package explain

import (
	"fmt"
	"regexp"
	"strings"
)

// Markdown renders the report for a pull request: a summary table, a
// Mermaid block (which GitHub draws natively; kept within its limits and
// simplified as in the HTML report) and a section per policy.
func Markdown(in *Input) ([]byte, error) {
	m := newModel(in)
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n", mdText(in.Title))
	if in.Source != "" {
		fmt.Fprintf(&b, "%s\n\n", mdText(in.Source))
	}
	writeAnomalies(&b, in, m)
	b.WriteString("| | |\n|---|---|\n")
	for _, s := range m.Stats {
		fmt.Fprintf(&b, "| %s | %s |\n", mdText(s.Name), mdText(s.Value))
	}
	b.WriteString("\n")
	if len(m.Denied) > 0 {
		fmt.Fprintf(&b, "**%d observed connections are denied by these policies:**\n\n| source | destination | port | flows | why |\n|---|---|---|---:|---|\n", len(m.Denied))
		for _, c := range m.Denied {
			fmt.Fprintf(&b, "| %s | %s | %s | %d | %s |\n", mdCode(c.Src), mdCode(c.Dst), mdText(c.Port), c.Flows, mdText(c.Why))
		}
		b.WriteString("\n")
	}

	if len(m.Notes) > 0 {
		b.WriteString("**Notes from the rule packs:**\n\n")
		writeNotes(&b, m.Notes)
	}

	b.WriteString("### Topology\n\n")
	for _, l := range m.Legend {
		fmt.Fprintf(&b, "- %s: %s\n", legendWord(l.Class), mdText(l.Text))
	}
	for _, n := range m.Topology.Notes {
		fmt.Fprintf(&b, "- %s\n", mdText(n))
	}
	b.WriteString("\n" + fence("mermaid", m.Topology.Text) + "\n")

	if len(m.Skipped) > 0 {
		b.WriteString("<details><summary>Records skipped</summary>\n\n| reason | records |\n|---|---:|\n")
		for _, s := range m.Skipped {
			fmt.Fprintf(&b, "| %s | %s |\n", mdText(s.Name), s.Value)
		}
		b.WriteString("\n</details>\n\n")
	}
	if len(m.ProbeTop) > 0 {
		b.WriteString("### Least-privilege probe\n\n| allowed by | unobserved connections | for example |\n|---|---:|---|\n")
		for _, p := range m.ProbeTop {
			var ex []string
			for _, e := range p.Examples {
				ex = append(ex, mdCode(e))
			}
			fmt.Fprintf(&b, "| %s | %d | %s |\n", mdText(p.Policy), p.Allowed, strings.Join(ex, "<br>"))
		}
		b.WriteString("\n")
	}
	if len(m.Reach) > 0 {
		b.WriteString("### Reachability\n\nWho may reach whom under these policies, on the ports each workload was seen serving (a pair the flows never show is what the policies allow beyond the traffic):\n\n| from | to | allowed | in the flows |\n|---|---|---|---|\n")
		for _, p := range m.Reach {
			var ports []string
			for _, s := range p.Allowed {
				ports = append(ports, s.String())
			}
			seen := "not observed"
			if p.Observed {
				seen = "observed"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", mdText(p.Src), mdText(p.Dst), strings.Join(ports, " "), seen)
		}
		b.WriteString("\n")
	}
	if len(m.PerPolicy) > 0 {
		b.WriteString("### Flows per policy\n\n| policy | flows allowed | flows denied | rules | rules no flow exercised |\n|---|---:|---:|---:|---:|\n")
		for i, p := range m.PerPolicy {
			if i == maxMarkdownRows {
				fmt.Fprintf(&b, "| … and %d more | | | | |\n", len(m.PerPolicy)-i)
				break
			}
			fmt.Fprintf(&b, "| %s | %d | %d | %d | %d |\n", mdCode(p.Name), p.Flows, p.Denied, p.Rules, p.Unexercised)
		}
		b.WriteString("\n")
	}
	if len(m.Unused) > 0 {
		b.WriteString("### Rules no flow exercised\n\n")
		for i, u := range m.Unused {
			if i == maxMarkdownRows {
				fmt.Fprintf(&b, "- … and %d more (see each policy below)\n", len(m.Unused)-i)
				break
			}
			fmt.Fprintf(&b, "- %s\n", mdCode(u))
		}
		b.WriteString("\n")
	}
	b.WriteString("### Policies\n\n")
	for _, p := range m.Policies {
		fmt.Fprintf(&b, "#### %s %s\n\n", mdText(p.Kind), mdCode(p.Name))
		if p.File != "" {
			fmt.Fprintf(&b, "From %s.\n\n", mdCode(p.File))
		}
		if len(p.Notes) > 0 {
			b.WriteString("The rule packs decided:\n\n")
			writeNotes(&b, p.Notes)
		}
		if len(p.Errors) > 0 {
			b.WriteString("**Invalid: not loaded, the cluster would not enforce it.**\n\n")
			for _, e := range p.Errors {
				fmt.Fprintf(&b, "- %s\n", mdCode(e))
			}
			b.WriteString("\n")
		} else {
			fmt.Fprintf(&b, "Valid. Allowed %d flows", p.Flows)
			if p.Denied > 0 {
				fmt.Fprintf(&b, ", denied %d", p.Denied)
			}
			if p.Unexercised > 0 {
				fmt.Fprintf(&b, "; **%d rules no flow exercised**", p.Unexercised)
			}
			b.WriteString(".\n\n")
			if len(p.Rules) > 0 {
				// Rules with L7 requests behind them get a column listing them.
				reqs := false
				for _, r := range p.Rules {
					reqs = reqs || len(r.Requests) > 0
				}
				b.WriteString("| rule | flows | connections | first seen | last seen | busiest connection |")
				if reqs {
					b.WriteString(" requests behind it |\n|---|---:|---:|---|---|---|---|\n")
				} else {
					b.WriteString("\n|---|---:|---:|---|---|---|\n")
				}
				for _, r := range p.Rules {
					busiest := "—"
					if len(r.Conns) > 0 {
						c := r.Conns[0]
						busiest = mdCode(fmt.Sprintf("%s → %s %s", c.Src, c.Dst, c.Port))
					}
					fmt.Fprintf(&b, "| %s | %d | %d | %s | %s | %s |", mdCode(r.Path), r.Flows, r.Connections, r.FirstSeen, r.LastSeen, busiest)
					if reqs {
						var rs []string
						for _, q := range r.Requests {
							rs = append(rs, mdCode(q))
						}
						if r.MoreRequests > 0 {
							rs = append(rs, fmt.Sprintf("and %d more", r.MoreRequests))
						}
						fmt.Fprintf(&b, " %s |", strings.Join(rs, "<br>"))
					}
					b.WriteString("\n")
				}
				b.WriteString("\n")
			}
		}
		b.WriteString("<details><summary>YAML</summary>\n\n" + fence("yaml", p.YAML) + "\n</details>\n\n")
	}
	return []byte(b.String()), nil
}

// writeAnomalies writes the Anomalies section (first, so a reviewer sees
// it before anything else) and the recommendations.
func writeAnomalies(b *strings.Builder, in *Input, m *model) {
	if in.Anomalies != nil {
		b.WriteString("### Anomalies\n\n")
		base := ""
		if m.AnomalyBaseline {
			base = ", compared with the baseline snapshot"
		}
		if len(m.Anomalies) == 0 {
			fmt.Fprintf(b, "No anomaly: none of the detectors found anything unusual%s.\n\n", base)
		} else {
			fmt.Fprintf(b, "What in this traffic deserves a look before these policies make it permanent, highest score first%s. Subjects scored %d or more are outlined (⚠) on the topology.\n\n", base, FlagScore)
			b.WriteString("| score | detector | subject | finding | evidence |\n|---:|---|---|---|---|\n")
			for _, a := range m.Anomalies {
				ev := mdText(a.Evidence)
				for _, s := range a.Samples {
					ev += "<br>" + mdCode(s)
				}
				score := a.Score
				if a.High {
					score = "**" + score + "**"
				}
				fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", score, mdCode(a.Detector), mdCode(a.Subject), mdText(a.Msg), ev)
			}
			if m.MoreAnomalies > 0 {
				fmt.Fprintf(b, "| | | | … and %d more (`ppc explain -o FILE.json` lists every one) | |\n", m.MoreAnomalies)
			}
			b.WriteString("\n")
		}
	}
	if len(m.Recommendations) > 0 {
		b.WriteString("### Recommendations\n\n")
		for i, r := range m.Recommendations {
			if i == maxMarkdownRows {
				fmt.Fprintf(b, "- … and %d more\n", len(m.Recommendations)-i)
				break
			}
			fmt.Fprintf(b, "- %s %s\n", mdCode(r.Kind), mdText(r.Msg))
		}
		b.WriteString("\n")
	}
}

// writeNotes lists notes, at most maxMarkdownRows of them.
func writeNotes(b *strings.Builder, notes []string) {
	for i, n := range notes {
		if i == maxMarkdownRows {
			fmt.Fprintf(b, "- … and %d more\n", len(notes)-i)
			break
		}
		fmt.Fprintf(b, "- %s\n", mdText(n))
	}
	b.WriteString("\n")
}

// maxMarkdownRows bounds the summary tables of the Markdown report (the
// per-policy sections still list every policy).
const maxMarkdownRows = 50

func legendWord(c Class) string {
	return map[Class]string{ClassAllowed: "green", ClassDrop: "orange, dashed", ClassDenied: "red, dotted", ClassObserved: "grey", ClassAttempt: "purple, dotted"}[c]
}

var backticks = regexp.MustCompile("`+")

// fence wraps text in a code fence longer than any backtick run in it.
func fence(lang, text string) string {
	n := 3
	for _, m := range backticks.FindAllString(text, -1) {
		if len(m) >= n {
			n = len(m) + 1
		}
	}
	f := strings.Repeat("`", n)
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	return f + lang + "\n" + text + f + "\n"
}

// mdText escapes untrusted text for Markdown (and the HTML GitHub allows
// in it): markup characters become entities or are backslash-escaped,
// newlines become spaces, so a value cannot leave its table cell.
func mdText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\n', '\r':
			b.WriteByte(' ')
		case '\\', '`', '*', '_', '[', ']', '(', ')', '#', '|', '!', '~', '{', '}':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdCode shows untrusted text as inline code: nothing in a code span is
// markup; backticks and pipes (which would still end a table cell) are
// replaced by look-alikes, newlines by spaces.
func mdCode(s string) string {
	s = strings.NewReplacer("`", "ˋ", "|", "¦", "\n", " ", "\r", " ").Replace(s)
	return "`" + s + "`"
}
