// Package anomalyreport owns the output formats of the anomaly stage's
// findings and the recommendations (ppc explain -o FILE.json|FILE.sarif,
// and the text ppc learn and ppc compile print): text, JSON, and SARIF
// 2.1.0 so that code scanning can show and gate on them.
package anomalyreport

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/internal/textsafe"
	"github.com/policypilot/ppc/reports"
)

// Report is what the formats write: the findings and the
// recommendations.
type Report struct {
	Anomalies       *compiler.AnomalyReport   `json:"anomalies"`
	Recommendations []compiler.Recommendation `json:"recommendations"`
}

// Formats are the anomaly outputs. Options.Version names ppc's version in
// SARIF; Options.Cwd shortens sample positions.
var Formats = reports.NewFormats[Report]().
	Register("text", writeText).
	Register("json", writeJSON).
	Register("sarif", writeSARIF)

func writeText(w io.Writer, r Report, o reports.Options) error {
	a := r.Anomalies
	if a == nil || len(a.Findings) == 0 {
		fmt.Fprintln(w, "no anomaly found")
	} else {
		for _, f := range a.Findings {
			fmt.Fprintf(w, "%5.1f  %-16s %s\n", f.Score, f.Detector, textsafe.Line(f.Msg))
			for _, p := range f.Evidence.Samples {
				fmt.Fprintf(w, "       at %s\n", textsafe.Line(reports.RelPos(p, o.Cwd)))
			}
		}
		if a.Omitted > 0 {
			fmt.Fprintf(w, "and %d more findings not kept\n", a.Omitted)
		}
	}
	for _, rec := range r.Recommendations {
		fmt.Fprintf(w, "recommendation (%s): %s\n", rec.Kind, textsafe.Line(rec.Msg))
	}
	return nil
}

func writeJSON(w io.Writer, r Report, _ reports.Options) error {
	if r.Anomalies == nil {
		r.Anomalies = &compiler.AnomalyReport{}
	}
	if r.Anomalies.Findings == nil {
		r.Anomalies.Findings = []compiler.Anomaly{}
	}
	if r.Recommendations == nil {
		r.Recommendations = []compiler.Recommendation{}
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// level maps a score to a SARIF level: error from compiler.HighScore,
// warning from half of it, note below.
func level(score float64) string {
	switch {
	case score >= compiler.HighScore:
		return "error"
	case score >= compiler.HighScore/2:
		return "warning"
	}
	return "note"
}

// detectorHelp describes the default pack's detectors in SARIF; an
// organisation's get their name.
var detectorHelp = map[string]string{
	"scan":            "A source tried many destinations or ports, most of them dropped by policy: scan-like.",
	"repeated_drops":  "A source's connection attempts were dropped by policy again and again.",
	"rare_edge":       "A connection with very few flows from a source whose other connections carry many.",
	"world_no_dns":    "Addresses outside the cluster reached with no DNS name in the flows: only a CIDR rule can allow them.",
	"quiet_namespace": "Traffic of a namespace that otherwise has none (or had none in the baseline).",
	"single_port":     "A port that one connection in the whole capture used.",
	"new_edge":        "A connection the baseline snapshot does not have.",
}

func writeSARIF(w io.Writer, r Report, o reports.Options) error {
	type text struct {
		Text string `json:"text"`
	}
	var findings []compiler.Anomaly
	if r.Anomalies != nil {
		findings = r.Anomalies.Findings
	}
	index := map[string]int{}
	rules := []map[string]any{}
	results := []map[string]any{}
	for _, f := range findings {
		i, ok := index[f.Detector]
		if !ok {
			i = len(rules)
			index[f.Detector] = i
			desc := detectorHelp[f.Detector]
			if desc == "" {
				desc = "An anomaly detector of an organisation's rule pack."
			}
			rules = append(rules, map[string]any{
				"id": f.Detector, "name": "ppc.anomaly." + f.Detector,
				"shortDescription":     text{desc},
				"defaultConfiguration": map[string]any{"level": "warning"},
				"properties":           map[string]any{"tags": []string{"cilium", "network-traffic", "anomaly"}},
			})
		}
		res := map[string]any{
			"ruleId": f.Detector, "ruleIndex": i, "level": level(f.Score),
			"rank":    f.Score,
			"message": text{f.Msg},
			"partialFingerprints": map[string]string{
				"ppcAnomaly/v1": fingerprint(f),
			},
			"properties": map[string]any{"score": f.Score, "subject": f.Subject, "edges": f.Edges,
				"connections": f.Evidence.Connections, "dropped": f.Evidence.Dropped},
		}
		var locs []map[string]any
		for _, p := range f.Evidence.Samples {
			locs = append(locs, map[string]any{"physicalLocation": map[string]any{
				"artifactLocation": map[string]any{"uri": uri(p.File, o.Cwd)},
				"region":           map[string]any{"startLine": max(p.Line, 1)},
			}})
		}
		if f.Subject != "" {
			logical := []map[string]any{{"name": f.Subject, "kind": "object"}}
			if len(locs) == 0 {
				locs = append(locs, map[string]any{"logicalLocations": logical})
			} else {
				locs[0]["logicalLocations"] = logical
			}
		}
		if len(locs) > 0 {
			res["locations"] = locs
		}
		results = append(results, res)
	}
	return reports.WriteSARIF(w, rules, results, o)
}

// fingerprint identifies a finding across runs: its detector, subject and
// edges, not its score or message (which change with the counts).
func fingerprint(f compiler.Anomaly) string {
	h := sha256.Sum256([]byte(f.Detector + "\x00" + f.Subject + "\x00" + strings.Join(f.Edges, "\x00")))
	return hex.EncodeToString(h[:16])
}

// uri is a sample's file as a SARIF artifact URI: relative to cwd when
// below it, slash-separated.
func uri(file, cwd string) string {
	if file == "-" {
		return "stdin"
	}
	if cwd != "" && filepath.IsAbs(file) {
		if r, err := filepath.Rel(cwd, file); err == nil && !strings.HasPrefix(r, "..") {
			file = r
		}
	}
	return filepath.ToSlash(file)
}
