package explain

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"regexp"
	"strings"

	"github.com/policypilot/ppc/third_party/mermaid"
)

//go:embed report.html.tmpl
var htmlTemplate string

//go:embed report.js
var appScript string

//go:embed report.css
var styleSheet string

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	// lineStyle turns one of ppc's own Mermaid link styles into CSS.
	"lineStyle": func(s string) template.CSS { return template.CSS(strings.ReplaceAll(s, ",", ";")) },
}).Parse(htmlTemplate))

// scriptClose finds what would end an inline script early.
var scriptClose = regexp.MustCompile(`(?i)</?script`)

// HTML renders the report as one self-contained page: Mermaid and the
// page's script are inlined and pinned by a Content-Security-Policy that
// allows exactly those two scripts (no inline event handler, no network
// request of any kind), so the page works from a file URL with no
// network, and markup smuggled in through cluster data cannot run.
func HTML(in *Input) ([]byte, error) {
	lib, err := mermaid.Script()
	if err != nil {
		return nil, err
	}
	if scriptClose.Match(lib) {
		return nil, fmt.Errorf("the vendored Mermaid contains a <script or </script sequence and cannot be inlined")
	}
	m := newModel(in)
	data := struct {
		*model
		Title, Source  string
		CSP            string
		Style          template.CSS
		Lib, App       template.JS
		MermaidVersion string
		Data           any
		AnomaliesRun   bool
		FlagScore      int
	}{
		model: m, Title: in.Title, Source: in.Source, AnomaliesRun: in.Anomalies != nil, FlagScore: FlagScore,
		Style: template.CSS(styleSheet), Lib: template.JS(lib), App: template.JS(appScript),
		MermaidVersion: mermaid.Version(),
		Data: struct {
			Topology   Diagram            `json:"topology"`
			Namespaces map[string]Diagram `json:"namespaces"`
		}{m.Topology, m.NSDiagrams},
	}
	data.CSP = fmt.Sprintf("default-src 'none'; script-src %s %s; style-src 'unsafe-inline'; img-src data:; font-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'",
		hashSource(lib), hashSource([]byte(appScript)))
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func hashSource(b []byte) string {
	h := sha256.Sum256(b)
	return "'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"
}
