package testutil

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyWalls enforces the layering compiler/README.md describes:
// ir imports nothing heavier than the standard library; only the packages
// that need Cilium import it; rules needs neither Cilium nor CUE; the
// compiler and its stages depend on no output format (reports); output
// formats are encoded only in reports; nothing imports cmd, and cmd only
// parses flags and calls ppc's libraries; internal/app, the layer that
// runs whole commands above the compiler and the reports, is called only
// by cmd.
func TestDependencyWalls(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}|{{join .Imports " "}}|{{join .Deps " "}}`, "github.com/policypilot/ppc/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/policypilot/ppc/"
	ciliumAllowed := map[string]bool{
		mod + "compiler/flows": true, mod + "compiler/lower": true, mod + "compiler/synth": true,
		mod + "compiler/verify": true, mod + "compiler/replay": true, mod + "compiler/agent": true,
		mod + "compiler/hubble": true,
		// The Hubble test server registers Cilium's observer service and
		// filters with Cilium's filter code.
		mod + "internal/hubbletest": true,
		// The scale benchmark's baseline decodes flows exactly as hubble
		// does, with Cilium's own observer types.
		mod + "internal/benchtool/cmd/hubbledecode": true,
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.SplitN(line, "|", 3)
		pkg, imports, deps := parts[0], strings.Fields(parts[1]), strings.Fields(parts[2])
		checked++
		if pkg == mod+"ir" || strings.HasPrefix(pkg, mod+"ir/") {
			for _, d := range deps {
				if strings.Contains(strings.SplitN(d, "/", 2)[0], ".") && !strings.HasPrefix(d, mod+"ir") {
					t.Errorf("%s depends on %s: ir must use the standard library only", pkg, d)
				}
			}
		}
		for _, imp := range imports {
			if strings.HasPrefix(imp, "github.com/cilium/") && !ciliumAllowed[pkg] {
				t.Errorf("%s imports %s: only %v may import Cilium", pkg, imp, keys(ciliumAllowed))
			}
			if strings.HasPrefix(imp, mod+"cmd") && !strings.HasPrefix(pkg, mod+"cmd") {
				t.Errorf("%s imports %s: nothing imports cmd", pkg, imp)
			}
			if imp == mod+"internal/app" && !strings.HasPrefix(pkg, mod+"cmd") {
				t.Errorf("%s imports %s: only cmd calls the command layer", pkg, imp)
			}
			// Output formats live in reports: nothing else encodes XML
			// or JUnit, and the command package encodes no JSON.
			if (imp == "encoding/xml" || imp == mod+"reports/junit") && !strings.HasPrefix(pkg, mod+"reports") {
				t.Errorf("%s imports %s: output formats are written in reports", pkg, imp)
			}
			if strings.HasPrefix(pkg, mod+"cmd") {
				if why := cmdImport(imp); why != "" {
					t.Errorf("%s imports %s: %s", pkg, imp, why)
				}
			}
		}
		if pkg == mod+"compiler" || strings.HasPrefix(pkg, mod+"compiler/") {
			for _, d := range deps {
				if d == mod+"reports" || strings.HasPrefix(d, mod+"reports/") {
					t.Errorf("%s depends on %s: the compiler depends on no output format", pkg, d)
				}
			}
		}
		if pkg == mod+"rules" {
			for _, d := range deps {
				for _, h := range []string{"github.com/cilium/", "cuelang.org/"} {
					if strings.HasPrefix(d, h) {
						t.Errorf("rules depends on %s", d)
					}
				}
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d packages listed", checked)
	}
}

// cmdImport says why the command package may not import imp ("" when it
// may): it parses flags (pflag) and calls ppc's libraries; encoding,
// templates, tables, profiles, networking and processes belong to them.
func cmdImport(imp string) string {
	if imp == "github.com/spf13/pflag" || strings.HasPrefix(imp, "github.com/policypilot/ppc/") {
		return ""
	}
	if strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
		return "cmd parses flags (pflag) and calls ppc's libraries; other modules are theirs"
	}
	for _, p := range []string{"encoding/", "html", "text/", "runtime/pprof", "net", "os/exec", "compress/", "archive/", "bufio"} {
		if strings.HasPrefix(imp, p) {
			return "cmd parses flags and calls libraries: output formats are written in reports, the rest in the library that owns it"
		}
	}
	return ""
}

func keys(m map[string]bool) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestCmdImport(t *testing.T) {
	for imp, allowed := range map[string]bool{
		"github.com/spf13/pflag":             true,
		"github.com/policypilot/ppc/reports": true,
		"fmt":                                true,
		"os/signal":                          true,
		"encoding/json":                      false,
		"text/tabwriter":                     false,
		"runtime/pprof":                      false,
		"github.com/open-policy-agent/opa/v1/rego":     false,
		"github.com/cilium/cilium/pkg/policy":          false,
		"html/template":                                false,
		"net/http":                                     false,
		"github.com/policypilot/ppc/internal/textsafe": true,
	} {
		if got := cmdImport(imp) == ""; got != allowed {
			t.Errorf("cmdImport(%q) allows: %v, want %v", imp, got, allowed)
		}
	}
}
