package cli

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/policypilot/ppc/internal/testutil"
)

// TestDeployManifests: the manifests under deploy/ decode strictly into
// the Kubernetes API types, the learner runs with no API rights, as
// nonroot on a read-only root, and its arguments are flags ppc learn
// accepts.
func TestDeployManifests(t *testing.T) {
	dir := filepath.Join(filepath.Dir(testutil.Testdata()), "deploy")
	read := func(name string, into any) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.UnmarshalStrict(b, into); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	var ns corev1.Namespace
	var sa corev1.ServiceAccount
	var pvc corev1.PersistentVolumeClaim
	var dep appsv1.Deployment
	read("namespace.yaml", &ns)
	read("serviceaccount.yaml", &sa)
	read("pvc.yaml", &pvc)
	read("learner.yaml", &dep)
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Error("the learner's service account mounts a token it does not need")
	}
	spec := dep.Spec.Template.Spec
	if spec.ServiceAccountName != sa.Name || spec.SecurityContext == nil || spec.SecurityContext.RunAsNonRoot == nil || !*spec.SecurityContext.RunAsNonRoot {
		t.Error("the learner does not run as its nonroot service account")
	}
	c := spec.Containers[0]
	if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem || len(c.SecurityContext.Capabilities.Drop) == 0 {
		t.Error("the learner's root file system is writable or it keeps capabilities")
	}
	if c.Args[0] != "learn" {
		t.Fatalf("args %v", c.Args)
	}
	cmd := lookup("learn")
	fs := newFlagSet(cmd, io.Discard)
	cmd.setup(fs)
	if err := fs.Parse(c.Args[1:]); err != nil {
		t.Errorf("ppc learn refuses the learner's arguments: %v", err)
	}
	if v, _ := fs.GetBool("follow"); !v {
		t.Error("the learner does not follow")
	}
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
	}
	read("kustomization.yaml", &k)
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join(dir, r)); err != nil {
			t.Errorf("kustomization lists %s: %v", r, err)
		}
	}
}
