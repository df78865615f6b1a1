package explain

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/internal/flowgen"
	"github.com/policypilot/ppc/internal/testutil"
	"github.com/policypilot/ppc/ir/irtest"
)

// The hostile strings of the issue: markup for HTML, a statement break
// for Mermaid, and a few more.
var hostile = []string{
	`<img src=x onerror=alert(1)>`,
	`"]; click A call x`,
	`<script>alert(2)</script>`,
	"x\n  n0 --> n1\n%%{init: {'securityLevel':'loose'}}%%",
	"`code` | cell | [link](javascript:alert(3)) #35; &amp;",
}

func TestQuote(t *testing.T) {
	safe := regexp.MustCompile(`^"([A-Za-z0-9 .\-_/:,=+@]|#[0-9]+;|…)*"$`)
	for _, s := range append(hostile, "plain-name_1.2", strings.Repeat("a", 200)) {
		q := quote(s)
		if !safe.MatchString(q) {
			t.Errorf("quote(%q) = %s: holds a character Mermaid could read as syntax", s, q)
		}
	}
	if got := quote(`a"b`); got != `"a#34;b"` {
		t.Errorf("quote = %s", got)
	}
}

// compileOpts compiles flow files as ppc compile does.
func compileOpts(t testing.TB, opts compiler.Options, files ...string) *compiler.Result {
	t.Helper()
	opts.InferCluster, opts.Agent = true, agent.Defaults()
	res, err := compiler.Compile(context.Background(), files, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Diagnostics.HasErrors() {
		t.Fatalf("compile: %v", res.Diagnostics)
	}
	return res
}

func sample(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, filepath.Join(testutil.Testdata(), "flows", n))
	}
	return out
}

var kind = []string{"hubble-otel-basic-sample-400-tcp-flows.json", "hubble-otel-basic-sample-400-udp-flows.json", "hubble-otel-basic-sample-400-l7-redirected-flows.json"}

func fromCompile(t testing.TB, files []string) *Input {
	t.Helper()
	return fromCompileOpts(t, compiler.Options{}, files)
}

func fromCompileOpts(t testing.TB, opts compiler.Options, files []string) *Input {
	t.Helper()
	res := compileOpts(t, opts, files...)
	var rel []string
	for _, f := range files {
		rel = append(rel, filepath.Base(f))
	}
	in, err := FromCompile(res, "ppc policy report", rel)
	if err != nil {
		t.Fatal(err)
	}
	in.Cwd = testutil.Testdata()
	return in
}

// TestMarkdownGolden pins the Markdown report of the kind samples.
func TestMarkdownGolden(t *testing.T) {
	in := fromCompile(t, sample(kind...))
	md, err := Markdown(in)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, filepath.Join(testutil.Testdata(), "explain", "kind.md"), md)
}

// TestDeterministic: the same input gives the same bytes, twice over and
// from a fresh compile.
func TestDeterministic(t *testing.T) {
	a, err := HTML(fromCompile(t, sample(kind...)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := HTML(fromCompile(t, sample(kind...)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two reports of the same input differ")
	}
}

// TestHTMLStructure checks what the browser tests rely on: one CSP that
// names the two inline scripts by hash and allows no source, and the data
// block parses as JSON holding the diagram.
func TestHTMLStructure(t *testing.T) {
	in := fromCompile(t, sample(kind...))
	h, err := HTML(in)
	if err != nil {
		t.Fatal(err)
	}
	s := string(h)
	csp := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]+)">`).FindStringSubmatch(s)
	if csp != nil {
		csp[1] = html.UnescapeString(csp[1])
	}
	if csp == nil || !regexp.MustCompile(`script-src 'sha256-[^']+' 'sha256-[^']+';`).MatchString(csp[1]) || !strings.Contains(csp[1], "default-src 'none'") {
		t.Fatalf("CSP = %v", csp)
	}
	if strings.Contains(s, "http://") && !strings.Contains(s, "http://www.w3.org/") {
		// The only URLs allowed are XML namespaces inside Mermaid.
		t.Log("report mentions http:// URLs (inside the vendored Mermaid)")
	}
	data := regexp.MustCompile(`(?s)<script type="application/json" id="ppc-data">(.*?)</script>`).FindStringSubmatch(s)
	if data == nil {
		t.Fatal("no data block")
	}
	var d struct {
		Topology Diagram `json:"topology"`
	}
	if err := json.Unmarshal([]byte(data[1]), &d); err != nil {
		t.Fatalf("data block: %v", err)
	}
	if !strings.HasPrefix(d.Topology.Text, "flowchart LR\n") || d.Topology.Edges != 13 {
		t.Errorf("topology %d edges: %.200s", d.Topology.Edges, d.Topology.Text)
	}
}

// hostileInput is a graph and a policy whose every cluster-derived string
// is hostile.
func hostileInput() *Input {
	var items []irtest.Item
	for i, h := range hostile {
		items = append(items, irtest.Workload("ns-"+fmt.Sprint(i), h, "app=x"))
	}
	items = append(items, irtest.Workload(hostile[1], "web", "app=web"))
	for i, h := range hostile {
		items = append(items, irtest.Edge(hostile[1]+"/web", "ns-"+fmt.Sprint(i)+"/"+h, "TCP/80"))
		items = append(items, irtest.Edge(hostile[1]+"/web", "fqdn:"+strings.ToLower(h), "TCP/443"))
	}
	g := irtest.Graph(items...)
	y := "metadata:\n  name: x\n  annotations:\n"
	for i, h := range hostile {
		y += fmt.Sprintf("    a%d: %q\n", i, h)
	}
	return &Input{Title: hostile[0], Source: hostile[2], Graph: g, Files: 1, Notes: hostile,
		Policies: []Policy{{Name: hostile[0], Kind: "CiliumNetworkPolicy", File: hostile[1], YAML: []byte(y), Errors: []string{hostile[2]}, Notes: hostile}}}
}

// TestHostileText: no hostile string reaches the HTML or the Markdown as
// markup.
func TestHostileText(t *testing.T) {
	h, err := HTML(hostileInput())
	if err != nil {
		t.Fatal(err)
	}
	body := regexp.MustCompile(`(?s)<script>.*?</script>`).ReplaceAll(h, nil) // the inlined scripts
	for _, bad := range []string{"<img", "<script>alert"} {
		if bytes.Contains(body, []byte(bad)) {
			t.Errorf("HTML holds %q outside the inlined scripts", bad)
		}
	}
	md, err := Markdown(hostileInput())
	if err != nil {
		t.Fatal(err)
	}
	// Code fences and code spans show their content as text; outside
	// them nothing may be markup.
	prose := regexp.MustCompile("(?s)```+[a-z]*\n.*?\n```+|`[^`\n]*`").ReplaceAll(md, nil)
	for _, bad := range []string{"<img", "<script", "](javascript"} {
		if bytes.Contains(prose, []byte(bad)) {
			t.Errorf("Markdown holds %q", bad)
		}
	}
}

var (
	genOnce  sync.Once
	genInput *Input
)

// generated compiles flowgen traffic once: 500 workloads in 50 namespaces.
func generated(t testing.TB) *Input {
	t.Helper()
	genOnce.Do(func() { genInput = generate(t, 50_000) })
	if genInput == nil {
		t.Fatal("generating traffic failed")
	}
	return genInput
}

func generate(t testing.TB, flows int) *Input {
	t.Helper()
	f := filepath.Join(t.TempDir(), "gen.ndjson")
	if err := flowgen.WriteFile(f, flowgen.Config{Flows: flows, Namespaces: 50, Workloads: 500, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	return fromCompile(t, []string{f})
}

// TestLargeTopology: 500 workloads are drawn collapsed, within the
// limits, with notes that say so; each namespace's detail too.
func TestLargeTopology(t *testing.T) {
	in := generated(t)
	m := newModel(in)
	d := m.Topology
	if !d.Collapsed || d.Edges > DefaultLimits.MaxEdges || len(d.Text) > DefaultLimits.MaxText || len(d.Notes) < 2 {
		t.Errorf("topology: collapsed %v, %d edges, %d chars, notes %q", d.Collapsed, d.Edges, len(d.Text), d.Notes)
	}
	if len(m.Namespaces) < 50 {
		t.Fatalf("%d expandable namespaces", len(m.Namespaces))
	}
	for _, ns := range m.Namespaces {
		nd := m.NSDiagrams[ns]
		if nd.Edges == 0 || nd.Edges > DefaultLimits.MaxEdges || len(nd.Text) > DefaultLimits.MaxText {
			t.Errorf("namespace %s: %d edges, %d chars", ns, nd.Edges, len(nd.Text))
		}
	}
}

// TestBrowserSamples opens the kind samples' report in Chromium: the
// diagram holds every workload and every edge, nothing errs, nothing is
// fetched.
func TestBrowserSamples(t *testing.T) {
	in := fromCompile(t, sample(kind...))
	h, err := HTML(in)
	if err != nil {
		t.Fatal(err)
	}
	p := openReport(t, h, "kind-samples")
	p.clean(t)
	if n := p.eval(t, `String(document.querySelectorAll("#topology svg g.node").length)`); n != "11" {
		t.Errorf("%s nodes drawn, want 11", n)
	}
	if n := p.eval(t, `String(document.querySelectorAll("#topology svg .edgePaths path").length)`); n != "13" {
		t.Errorf("%s edges drawn, want 13 (the connections of the three captures)", n)
	}
	text := p.eval(t, `document.querySelector("#topology svg").textContent`)
	for _, want := range []string{"productpage", "kube-dns", "namespace bookinfo", "remote-node", "TCP 9080"} {
		if !strings.Contains(text, want) {
			t.Errorf("diagram text lacks %q", want)
		}
	}
}

// TestBrowserLargestSample renders the largest real sample: every flow
// in it was dropped by policy, so it is compiled as in the audit-mode
// workflow (--include-denied) and its edges are the "observed drop" class.
func TestBrowserLargestSample(t *testing.T) {
	opts := compiler.Options{}
	opts.Learn.Lower.IncludeDenied = true
	in := fromCompileOpts(t, opts, sample("policy-report-publisher-hubble2.json"))
	h, err := HTML(in)
	if err != nil {
		t.Fatal(err)
	}
	p := openReport(t, h, "largest-sample")
	p.clean(t)
	m := newModel(in)
	if n := p.eval(t, `String(document.querySelectorAll("#topology svg .edgePaths path").length)`); n != fmt.Sprint(m.Topology.Edges) || m.Topology.Edges == 0 {
		t.Errorf("%s edges drawn, want %d", n, m.Topology.Edges)
	}
	if !strings.Contains(m.Topology.Text, classStyle[ClassDrop]) {
		t.Error("the dropped flows are not drawn as observed drops")
	}
}

// TestBrowserGenerated renders 500 generated workloads (collapsed), then
// expands one namespace.
func TestBrowserGenerated(t *testing.T) {
	in := generated(t)
	h, err := HTML(in)
	if err != nil {
		t.Fatal(err)
	}
	p := openReport(t, h, "generated-500-workloads")
	m := newModel(in)
	if n := p.eval(t, `String(document.querySelectorAll("#topology svg .edgePaths path").length)`); n != fmt.Sprint(m.Topology.Edges) {
		t.Errorf("%s edges drawn, want %d", n, m.Topology.Edges)
	}
	ns := m.Namespaces[3]
	p.eval(t, fmt.Sprintf(`(function(){var s=document.getElementById("namespace-pick"); s.value=%q; s.dispatchEvent(new Event("change")); return "ok"})()`, ns))
	got, err := chromedp.Run(p.ctx, chromedp.Poll[string](fmt.Sprintf(`document.body.dataset.ppcNamespace === %q && String(document.querySelectorAll("#namespace-topology svg .edgePaths path").length)`, ns),
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		t.Fatalf("namespace %s was not drawn: %v", ns, err)
	}
	if want := fmt.Sprint(m.NSDiagrams[ns].Edges); got != want {
		t.Errorf("namespace %s: %s edges drawn, want %s", ns, got, want)
	}
	p.clean(t)
}

// TestBrowserHostileLabels: labels, names and YAML built to break out of
// HTML and Mermaid render as text, and nothing runs.
func TestBrowserHostileLabels(t *testing.T) {
	h, err := HTML(hostileInput())
	if err != nil {
		t.Fatal(err)
	}
	p := openReport(t, h, "hostile-labels")
	p.clean(t)
	if n := p.eval(t, `String(document.querySelectorAll("img, iframe, object, embed, body script:not([type]) ~ script:not([type]) ~ script, [onerror], [onclick], [onload], #topology a").length)`); n != "0" {
		t.Errorf("%s injected elements in the page", n)
	}
	text := p.eval(t, `document.querySelector("#topology svg").textContent`)
	for _, want := range []string{"<img src=x onerror=alert(1)>", `"]; click A call x`, "<script>alert(2)</script>"} {
		if !strings.Contains(text, want) {
			t.Errorf("diagram does not show %q as text", want)
		}
	}
	page := p.eval(t, `document.body.innerText`)
	if !strings.Contains(page, hostile[0]) {
		t.Error("the page does not show the hostile title as text")
	}
}

func TestFormatOf(t *testing.T) {
	for _, tc := range []struct{ path, format, want, err string }{
		{path: "", want: "html"},
		{path: "r.html", want: "html"},
		{path: "R.MD", want: "md"},
		{path: "r.markdown", want: "md"},
		{path: "r.txt", err: "cannot tell the report format"},
		{path: "r.txt", format: "md", want: "md"},
		{path: "r.html", format: "pdf", err: `--format "pdf"`},
	} {
		got, err := FormatOf(tc.path, tc.format)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("FormatOf(%q, %q) = %q, %v; want error %q", tc.path, tc.format, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("FormatOf(%q, %q) = %q, %v; want %q", tc.path, tc.format, got, err, tc.want)
		}
	}
}
