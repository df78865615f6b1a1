package verify

import (
	"context"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/policypilot/ppc/compiler/manifest"
)

// ciliumDir is the source of the cilium module this build uses.
func ciliumDir(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cilium/cilium").Output()
	if err != nil {
		t.Fatalf("cannot locate the cilium module with go list: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// ciliumExamples reads every object under examples/policies of the
// cilium module this build uses (dir).
func ciliumExamples(t testing.TB) (dir string, objs []manifest.Object) {
	t.Helper()
	dir = filepath.Join(ciliumDir(t), "examples", "policies")
	ins, err := manifest.Expand([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	objs, ds, err := manifest.Read(ins, nil)
	if err != nil || len(ds) > 0 {
		t.Fatal(err, ds)
	}
	return dir, objs
}

// TestCiliumExamples verifies every CiliumNetworkPolicy and
// CiliumClusterwideNetworkPolicy under examples/policies of the cilium
// module this build uses, with the agent's default settings. The
// examples Cilium v1.20.2 rejects are listed with the layer that rejects
// them and why; every other example must pass every layer. Upgrading
// Cilium re-runs this against its new examples.
func TestCiliumExamples(t *testing.T) {
	dir, objs := ciliumExamples(t)
	rejected := map[string]struct {
		layers []Layer
		msg    string // part of the first error
	}{
		// The CRD has no "auth" field (it is "authentication"): kubectl
		// apply fails with an unknown field.
		"auth/auth.yaml": {[]Layer{LayerSchema}, `unknown field "spec.egress[0].auth"`},
		// Port-less VRRP/IGMP rules need --enable-extended-ip-protocols.
		"host/allow-extended-protocols.yaml": {[]Layer{LayerAgent}, "port must be specified"},
		// fromNodes needs --enable-node-selector-labels.
		"l3/entities/customnodes.yaml": {[]Layer{LayerAgent}, "enable-node-selector-labels"},
		// fromRequires is deprecated: the CRD allows no items, and its
		// items are strings, not selectors.
		"l3/requires/requires.yaml": {[]Layer{LayerSchema, LayerAgent}, "fromRequires"},
	}
	v := newVerifier(t, false)
	rep := v.Manifests(context.Background(), objs, "default")
	if len(rep.Results) < 50 {
		t.Fatalf("only %d policies found under %s", len(rep.Results), dir)
	}
	seen := map[string]bool{}
	for _, r := range rep.Results {
		rel, _ := filepath.Rel(dir, r.Object.Pos.File)
		rel = filepath.ToSlash(rel)
		want, reject := rejected[rel]
		seen[rel] = true
		switch {
		case !reject && !r.Valid():
			t.Errorf("%s (%s): Cilium accepts it, ppc verify rejects it: %v", rel, r.Object.ID(), r.Diagnostics)
		case reject && r.Valid():
			t.Errorf("%s (%s): Cilium rejects it (%s), ppc verify passes it", rel, r.Object.ID(), want.msg)
		case reject:
			if got := r.Layers(); !reflect.DeepEqual(got, want.layers) {
				t.Errorf("%s: rejected by %v, want %v: %v", rel, got, want.layers, r.Diagnostics)
			}
			if !strings.Contains(r.Diagnostics[0].Msg, want.msg) && !strings.Contains(strings.Join(r.Diagnostics[0].Path, "."), want.msg) {
				t.Errorf("%s: first error %q does not mention %q", rel, r.Diagnostics[0].Msg, want.msg)
			}
		}
	}
	for f := range rejected {
		if !seen[f] {
			t.Errorf("%s: not found among the examples", f)
		}
	}
	// The example Pods, Services, … are counted, not verified.
	if rep.Skipped["Pod"] == 0 || rep.Skipped["CiliumNetworkPolicy"] != 0 {
		t.Errorf("skipped kinds = %v", rep.Skipped)
	}
}
