package compiler_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/internal/testutil"
	"github.com/policypilot/ppc/ir"
	"github.com/policypilot/ppc/reports"
)

// TestGolden runs the pipeline cases in testdata/compile. Each archive's
// comment holds "key: value" options:
//
//	files: flows/a.json flows/b.json   (inputs under testdata; else the archive's flows.json)
//	include-denied: true
//	stop-after: normalize
//	rules: rules/org-strict            (packs under testdata)
//	set: key=value
//	policy-default-local-cluster: false  (the agent flag, for replay)
//
// (other comment lines are prose), and its files "out/ir", "out/policies.yaml" and "out/diagnostics" hold
// the expected canonical IR, emitted YAML and diagnostics. PPC_UPDATE=1
// rewrites them.
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join(testutil.Testdata(), "compile", "*.txtar"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, path := range cases {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			opts := compiler.Options{Agent: agent.Defaults(), InferCluster: true}
			var args []string
			dir := t.TempDir()
			for _, line := range strings.Split(string(ar.Comment), "\n") {
				k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
				if !ok || strings.HasPrefix(k, "#") {
					continue
				}
				v = strings.TrimSpace(v)
				switch k {
				case "files":
					for _, f := range strings.Fields(v) {
						args = append(args, filepath.Join(testutil.Testdata(), f))
					}
				case "include-denied":
					opts.Learn.Lower.IncludeDenied = v == "true"
				case "stop-after":
					if opts.StopAfter, err = compiler.ParseStage(v); err != nil {
						t.Fatal(err)
					}
				case "rules":
					opts.Rules = append(opts.Rules, filepath.Join(testutil.Testdata(), v))
				case "set":
					opts.Set = append(opts.Set, v)
				case "policy-default-local-cluster":
					opts.Agent.PolicyAnyCluster = v == "false"
				}
			}
			for _, f := range ar.Files {
				if strings.HasPrefix(f.Name, "out/") {
					continue
				}
				p := filepath.Join(dir, f.Name)
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, f.Data, 0o644); err != nil {
					t.Fatal(err)
				}
				if strings.HasSuffix(f.Name, ".json") {
					args = append(args, p)
				}
			}
			res, err := compiler.Compile(context.Background(), args, opts)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got := map[string][]byte{}
			var buf bytes.Buffer
			if err := ir.Format(&buf, res.Graph); err != nil {
				t.Fatal(err)
			}
			got["out/ir"] = relativize(buf.Bytes(), dir)
			var diags bytes.Buffer
			for _, d := range res.Diagnostics {
				diags.WriteString(d.Error() + "\n")
			}
			got["out/diagnostics"] = relativize(diags.Bytes(), dir)
			if !res.Diagnostics.HasErrors() && (opts.StopAfter == "" || opts.StopAfter == compiler.StageEmit) {
				y, err := reports.Stream(res.Docs)
				if err != nil {
					t.Fatal(err)
				}
				got["out/policies.yaml"] = y
			}
			changed := false
			for name, data := range got {
				i := fileIndex(ar, name)
				if i < 0 {
					if len(data) == 0 {
						continue
					}
					if !testutil.Update() {
						t.Errorf("%s: missing (run with PPC_UPDATE=1):\n%s", name, data)
						continue
					}
					ar.Files = append(ar.Files, txtar.File{Name: name, Data: data})
					changed = true
					continue
				}
				if !bytes.Equal(ar.Files[i].Data, data) {
					if testutil.Update() {
						ar.Files[i].Data = data
						changed = true
						continue
					}
					t.Errorf("%s differs (PPC_UPDATE=1 rewrites it):\n--- want\n%s\n--- got\n%s", name, ar.Files[i].Data, data)
				}
			}
			if changed {
				if err := os.WriteFile(path, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func fileIndex(ar *txtar.Archive, name string) int {
	for i, f := range ar.Files {
		if f.Name == name {
			return i
		}
	}
	return -1
}

// relativize replaces temporary and testdata paths so goldens are stable.
func relativize(b []byte, dir string) []byte {
	b = bytes.ReplaceAll(b, []byte(dir+string(filepath.Separator)), nil)
	return bytes.ReplaceAll(b, []byte(testutil.Testdata()+string(filepath.Separator)), []byte("testdata/"))
}
