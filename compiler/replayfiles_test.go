package compiler_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/policypilot/ppc/compiler"
	"github.com/policypilot/ppc/compiler/agent"
	"github.com/policypilot/ppc/compiler/manifest"
)

// TestLearnAttemptsAndReplayPolicies: ppc replay's pipeline as a library.
// Policies compiled from a capture allow every attempt in it; a capture
// without a connection is an error, not an empty proof.
func TestLearnAttemptsAndReplayPolicies(t *testing.T) {
	ctx := context.Background()
	f := filepath.Join("..", "testdata", "flows", "hubble-otel-basic-sample-400-tcp-flows.json")
	res, settings, err := compiler.LearnAttempts(ctx, []string{f}, compiler.LearnOptions{}, agent.Defaults(), true)
	if err != nil || res.Diagnostics.HasErrors() {
		t.Fatalf("LearnAttempts: %v %v", err, res.Diagnostics)
	}
	if settings.ClusterName == "" {
		t.Error("no cluster name to replay under")
	}
	compiled := compile(t, []string{f}, compiler.Options{NoReplay: true})
	var objs []manifest.Object
	for _, d := range compiled.Docs {
		objs = append(objs, d.Object())
	}
	pr, err := compiler.ReplayPolicies(ctx, nil, res.Graph, objs, "default", settings, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.Verified) != len(objs) || pr.Loaded != len(objs) || len(pr.Invalid) != 0 {
		t.Fatalf("verified %d, loaded %d, invalid %d of %d", len(pr.Verified), pr.Loaded, len(pr.Invalid), len(objs))
	}
	if pr.Report.Denied != 0 || pr.Report.Allowed == 0 {
		t.Errorf("replay: %d allowed, %d denied", pr.Report.Allowed, pr.Report.Denied)
	}

	empty := filepath.Join(t.TempDir(), "empty.json")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = compiler.LearnAttempts(ctx, []string{empty}, compiler.LearnOptions{}, agent.Defaults(), true)
	var ie *compiler.InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "a replay of nothing proves nothing") {
		t.Errorf("empty capture: %v", err)
	}
}
