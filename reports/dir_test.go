package reports

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// policyDoc is a policy ppc writes (labelled managed-by: ppc).
func policyDoc(cluster, ns, name string) Doc {
	return Doc{Cluster: cluster, Namespace: ns, Name: name, JSON: []byte(`{"apiVersion":"cilium.io/v2","kind":"CiliumNetworkPolicy","metadata":{"name":"` + name + `","namespace":"` + ns + `","labels":{"app.kubernetes.io/managed-by":"ppc"}},"spec":{}}`)}
}

// tree lists the files under dir, relative, sorted.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWriteDirStaysClean: a second run after the traffic changed removes
// exactly ppc's stale files, keeps hand-written ones (also a file that
// only looks like a policy), lists every resource in kustomization.yaml,
// and a dry run reports the same without touching anything.
func TestWriteDirStaysClean(t *testing.T) {
	dir := t.TempDir()
	if _, err := WriteDir(dir, []Doc{policyDoc("", "shop", "api"), policyDoc("", "shop", "web"), policyDoc("", "old", "gone")}, DirOptions{}); err != nil {
		t.Fatal(err)
	}
	hand := "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: hand\n  namespace: shop\nspec: {}\n"
	write(t, filepath.Join(dir, "shop", "hand.yaml"), hand)
	// Two documents, one of them ppc's: not ppc's file.
	mixed := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\n  labels:\n    app.kubernetes.io/managed-by: ppc\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: n\n"
	write(t, filepath.Join(dir, "old", "mixed.yaml"), mixed)
	write(t, filepath.Join(dir, "notes.yaml"), "just: notes\n")
	write(t, filepath.Join(dir, ".git", "x.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels:\n    app.kubernetes.io/managed-by: ppc\n")

	next := []Doc{policyDoc("", "shop", "api"), policyDoc("", "new", "fresh")}
	dry, err := WriteDir(dir, next, DirOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	before := tree(t, dir)
	if len(dry.Removed) != 2 || !strings.HasSuffix(dry.Removed[0], "old/gone.yaml") || !strings.HasSuffix(dry.Removed[1], "shop/web.yaml") {
		t.Errorf("dry run would remove %v", dry.Removed)
	}
	res, err := WriteDir(dir, next, DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Removed, ",") != strings.Join(dry.Removed, ",") {
		t.Errorf("removed %v, dry run said %v", res.Removed, dry.Removed)
	}
	got := strings.Join(tree(t, dir), "\n")
	want := strings.Join([]string{".git/x.yaml", "kustomization.yaml", "new/fresh.yaml", "notes.yaml", "old/mixed.yaml", "shop/api.yaml", "shop/hand.yaml"}, "\n")
	if got != want {
		t.Errorf("after the second run:\n%s\nwant:\n%s\n(before it: %v)", got, want, before)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "shop", "hand.yaml")); string(b) != hand {
		t.Error("hand-written policy changed")
	}
	k, _ := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	wantK := kustomizeMarker + "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- new/fresh.yaml\n- old/mixed.yaml\n- shop/api.yaml\n- shop/hand.yaml\n"
	if string(k) != wantK {
		t.Errorf("kustomization.yaml:\n%s\nwant:\n%s", k, wantK)
	}
	// The same policies again: nothing changed, nothing rewritten.
	again, err := WriteDir(dir, next, DirOptions{})
	if err != nil || len(again.Changed) != 0 || len(again.Removed) != 0 {
		t.Errorf("a rerun with the same policies changed %v, removed %v (%v)", again.Changed, again.Removed, err)
	}
	if len(res.Changed) != 2 { // new/fresh.yaml and the kustomization
		t.Errorf("second run changed %v", res.Changed)
	}
	// A kustomization.yaml that is not ppc's is left alone, with a note.
	write(t, filepath.Join(dir, "kustomization.yaml"), "resources: [shop/hand.yaml]\n")
	res, err = WriteDir(dir, next, DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "not written by ppc") {
		t.Errorf("notes %v", res.Notes)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "kustomization.yaml")); string(b) != "resources: [shop/hand.yaml]\n" {
		t.Error("somebody else's kustomization.yaml rewritten")
	}
}

// TestWriteDirClusters: per-cluster output gets a kustomization per
// cluster directory, and ppc's top-level one of an earlier single-cluster
// run goes.
func TestWriteDirClusters(t *testing.T) {
	dir := t.TempDir()
	if _, err := WriteDir(dir, []Doc{policyDoc("", "shop", "api")}, DirOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := WriteDir(dir, []Doc{policyDoc("east", "shop", "api"), policyDoc("west", "shop", "api")}, DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(tree(t, dir), " ")
	if got != "east/kustomization.yaml east/shop/api.yaml west/kustomization.yaml west/shop/api.yaml" {
		t.Errorf("tree %s (removed %v)", got, res.Removed)
	}
}

// TestWriteDirLocked: a directory another ppc is writing is refused.
func TestWriteDirLocked(t *testing.T) {
	if !canLock {
		t.Skip("no flock on this system")
	}
	dir := t.TempDir()
	unlock, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = WriteDir(dir, []Doc{policyDoc("", "shop", "api")}, DirOptions{})
	if err == nil || !strings.Contains(err.Error(), "being written by another ppc") {
		t.Errorf("err = %v", err)
	}
	unlock()
	if _, err := WriteDir(dir, []Doc{policyDoc("", "shop", "api")}, DirOptions{}); err != nil {
		t.Errorf("after unlock: %v", err)
	}
}

// TestWriteDirRenderFailureLeavesItAsItWas: files are rendered and staged
// one at a time; a document that cannot be rendered (a character YAML
// refuses) fails the write, and the directory keeps its old files, with
// no temporary file and no directory made on the way.
func TestWriteDirRenderFailureLeavesItAsItWas(t *testing.T) {
	dir := t.TempDir()
	if _, err := WriteDir(dir, []Doc{policyDoc("", "shop", "api")}, DirOptions{}); err != nil {
		t.Fatal(err)
	}
	before := tree(t, dir)
	old, _ := os.ReadFile(filepath.Join(dir, "shop", "api.yaml"))
	bad := Doc{Namespace: "new-ns", Name: "web", JSON: []byte("{\"kind\":\"CiliumNetworkPolicy\",\"metadata\":{\"name\":\"web\",\"annotations\":{\"x\":\"a\x7fb\"}}}")}
	next := []Doc{policyDoc("", "shop", "api"), policyDoc("", "shop", "cart"), bad}
	if _, err := WriteDir(dir, next, DirOptions{}); err == nil || !strings.Contains(err.Error(), "new-ns/web") {
		t.Fatalf("err = %v, want the document that cannot be rendered named", err)
	}
	if got := tree(t, dir); strings.Join(got, " ") != strings.Join(before, " ") {
		t.Errorf("files %v, want %v as before", got, before)
	}
	if now, _ := os.ReadFile(filepath.Join(dir, "shop", "api.yaml")); string(now) != string(old) {
		t.Errorf("api.yaml changed:\n%s", now)
	}
	if _, err := os.Stat(filepath.Join(dir, "new-ns")); err == nil {
		t.Error("the new namespace's directory was left behind")
	}
}
