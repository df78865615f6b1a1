package explain

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromium returns the browser the tests drive: $PPC_CHROMIUM, else
// Debian's chromium. Without one the browser tests are skipped, unless
// PPC_REQUIRE_BROWSER=1 (CI sets it, after .ci/run installed chromium).
func chromium(t *testing.T) string {
	t.Helper()
	p := os.Getenv("PPC_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(p); err != nil {
		if os.Getenv("PPC_REQUIRE_BROWSER") == "1" {
			t.Fatalf("PPC_REQUIRE_BROWSER=1 but there is no browser at %s: %v", p, err)
		}
		t.Skipf("no browser at %s (install Debian's chromium, or set PPC_CHROMIUM): %v", p, err)
	}
	return p
}

// page is what a browser saw of a report.
type pageResult struct {
	Rendered time.Duration // from navigation to the diagram drawn
	Errors   []string      // console errors, exceptions, CSP violations
	Dialogs  []string      // alert/confirm/prompt opened
	Requests []string      // requests to anything but the file itself
	Eval     func(expr string) (string, error)
	ctx      context.Context
}

// openReport opens the HTML file in headless Chromium from a file URL
// with networking disabled, waits until the report's script has drawn
// the topology (or failed), and keeps a screenshot under
// $PPC_ARTIFACTS (default: the OS temp dir) for CI.
func openReport(t *testing.T, html []byte, name string) *pageResult {
	t.Helper()
	exe := chromium(t)
	dir := t.TempDir()
	file := filepath.Join(dir, name+".html")
	if err := os.WriteFile(file, html, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.WindowSize(1400, 1000),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		// No name resolves: nothing can leave the machine.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND"),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(acancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	res := &pageResult{ctx: ctx}
	var mu sync.Mutex
	fileURL := (&url.URL{Scheme: "file", Path: file}).String()
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				res.Errors = append(res.Errors, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(parts, " ")))
			}
		case *runtime.EventExceptionThrown:
			res.Errors = append(res.Errors, fmt.Sprintf("exception: %s %v", ev.ExceptionDetails.Text, ev.ExceptionDetails.Exception))
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError || ev.Entry.Source == log.EntrySourceSecurity {
				res.Errors = append(res.Errors, fmt.Sprintf("log %s: %s", ev.Entry.Source, ev.Entry.Text))
			}
		case *page.EventJavascriptDialogOpening:
			res.Dialogs = append(res.Dialogs, string(ev.Type)+": "+ev.Message)
			go func() {
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}()
		case *network.EventRequestWillBeSent:
			if ev.Request.URL != fileURL && !strings.HasPrefix(ev.Request.URL, "data:") {
				res.Requests = append(res.Requests, ev.Request.URL)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	for _, enable := range []func() error{
		func() error { _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); return err },
		func() error { _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); return err },
		func() error {
			_, err := chromedp.Call(ctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: true, DownloadThroughput: -1, UploadThroughput: -1})
			return err
		},
	} {
		if err := enable(); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(fileURL)); err != nil {
		t.Fatal(err)
	}
	state, err := chromedp.Run(ctx, chromedp.Poll[string](`document.body && (document.body.dataset.ppcRendered || document.body.dataset.ppcError)`,
		chromedp.WithPollingTimeout(60*time.Second), chromedp.WithPollingInterval(20*time.Millisecond)))
	res.Rendered = time.Since(start)
	if err != nil {
		t.Fatalf("the report did not finish drawing: %v", err)
	}
	if state != "ok" {
		t.Errorf("the report's diagram failed: %s", state)
	}
	res.Eval = func(expr string) (string, error) { return chromedp.Run(ctx, chromedp.Evaluate[string](expr)) }
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	art := os.Getenv("PPC_ARTIFACTS")
	if art == "" {
		art = filepath.Join(os.TempDir(), "ppc-artifacts")
	}
	if err := os.MkdirAll(art, 0o755); err == nil {
		p := filepath.Join(art, name+".png")
		if err := os.WriteFile(p, shot, 0o644); err == nil {
			t.Logf("screenshot: %s", p)
		}
	}
	// Not under mu: chromedp hands events to the listener on the goroutine
	// that reads the browser's replies, so a listener waiting for mu while
	// this call waits for its reply never returns (it hung a test run for
	// minutes).
	timing, _ := res.Eval(`"page parsed in " + Math.round(performance.getEntriesByType("navigation")[0].domContentLoadedEventEnd) + " ms, Mermaid layout " + document.getElementById("topology").dataset.ppcRenderMs + " ms"`)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%s: %d KiB, drawn in %v (%s)", name, len(html)/1024, res.Rendered.Round(time.Millisecond), timing)
	return res
}

// clean asserts that nothing went wrong in the page: no console error or
// CSP violation, no dialog (an executed payload), no network request.
func (r *pageResult) clean(t *testing.T) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Errorf("console errors: %q", r.Errors)
	}
	if len(r.Dialogs) > 0 {
		t.Errorf("a dialog opened (injected script ran): %q", r.Dialogs)
	}
	if len(r.Requests) > 0 {
		t.Errorf("the page made network requests: %q", r.Requests)
	}
}

func (r *pageResult) eval(t *testing.T, expr string) string {
	t.Helper()
	v, err := r.Eval(expr)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}
