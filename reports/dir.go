package reports

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/policypilot/ppc/internal/atomicfile"
	"github.com/policypilot/ppc/internal/parallel"
)

// ManagedBy is the label ppc puts on every policy it writes
// (app.kubernetes.io/managed-by: ppc): a file under an output directory
// whose documents all carry it is ppc's to rewrite or remove.
const ManagedBy = "app.kubernetes.io/managed-by"

// kustomizeMarker starts every kustomization.yaml ppc writes; one
// without it is somebody else's and is left alone.
const kustomizeMarker = "# Written by ppc: every resource in this directory. ppc rewrites this file; edit the policies, not it.\n"

// maxOwnedFile bounds the files read to recognise ppc's own.
const maxOwnedFile = 4 << 20

// DirOptions control WriteDir.
type DirOptions struct {
	// DryRun computes what would be written and removed, and writes
	// nothing.
	DryRun bool
}

// DirResult is what WriteDir did, or would do with DryRun.
type DirResult struct {
	Written []string // policy files, every one of this run
	// Changed are the files (policies and kustomizations) that are new or
	// whose content changed; a file whose bytes are already there is not
	// rewritten.
	Changed []string
	Removed []string // ppc's files of an earlier run that this run does not produce
	// Kustomizations are the kustomization.yaml files written, one per
	// directory kubectl apply -k takes (DIR, or DIR/<cluster> per cluster).
	Kustomizations []string
	// Notes say what was left alone and why.
	Notes []string
}

// WriteDir writes each document to dir/<namespace>/<name>.yaml, or
// dir/<cluster>/<namespace>/<name>.yaml when it is for one cluster of
// several, and keeps the directory clean for GitOps:
//
//   - files ppc wrote in an earlier run (every document labelled
//     app.kubernetes.io/managed-by: ppc) that this run does not produce are
//     removed; nothing else is ever removed or overwritten except ppc's own
//     files;
//   - a kustomization.yaml lists every resource of the directory (ppc's and
//     hand-written ones), unless one that ppc did not write is there;
//   - the directory is locked while it is written: a second ppc writing the
//     same directory fails instead of mixing its output with this one;
//   - every file is first written next to its target and renamed into place
//     only when all were written, so a failure leaves no half output
//     behind (nor the directories made on the way).
func WriteDir(dir string, docs []Doc, opts DirOptions) (*DirResult, error) {
	type file struct {
		rel string // slash-separated, relative to dir
		doc int    // the document it renders, or -1 for b
		b   []byte // a kustomization's content
	}
	var files []file
	want := map[string]bool{}
	roots := map[string]bool{}
	for i, d := range docs {
		if d.Namespace != "" && !safeSegment(d.Namespace) || !safeSegment(d.Name) || d.Cluster != "" && !safeSegment(d.Cluster) {
			return nil, fmt.Errorf("write %s/%s/%s: unsafe file name", d.Cluster, d.Namespace, d.Name)
		}
		rel, root := d.Path(), d.Cluster
		roots[root] = true
		files = append(files, file{rel: rel, doc: i})
		want[rel] = true
	}
	res := &DirResult{}
	for _, f := range files {
		res.Written = append(res.Written, filepath.Join(dir, filepath.FromSlash(f.rel)))
	}

	var made []string // directories this call created, parents first
	if !opts.DryRun {
		var err error
		if made, err = mkdirs(dir); err != nil {
			return nil, fmt.Errorf("write policies: %w", err)
		}
		unlock, err := lockDir(dir)
		if err != nil {
			removeEmpty(made)
			return nil, err
		}
		defer unlock()
	}

	// What is there: ppc's stale files, its temporary files of a run that
	// died, and the resources the kustomizations list.
	existing, err := scanDir(dir, want)
	if err != nil {
		removeEmpty(made)
		return nil, err
	}
	var stale []string
	resources := map[string][]string{} // root -> resources relative to it
	current := map[string][]byte{}     // kustomizations' content, by path
	present := map[string]bool{}       // the files of want that are there, to compare
	for _, ex := range existing {
		if ex.content != nil {
			current[ex.rel] = ex.content
		}
		switch {
		case ex.temp:
			stale = append(stale, ex.rel)
		case ex.kustomization:
			// ppc's kustomization of a root this run no longer has (the
			// flows used to span one cluster, now several, or back).
			if ex.owned && !roots[strings.TrimSuffix(strings.TrimSuffix(ex.rel, "kustomization.yaml"), "/")] {
				stale = append(stale, ex.rel)
				res.Removed = append(res.Removed, filepath.Join(dir, filepath.FromSlash(ex.rel)))
			}
		case want[ex.rel]:
			present[ex.rel] = ex.comparable
		case ex.owned:
			stale = append(stale, ex.rel)
			res.Removed = append(res.Removed, filepath.Join(dir, filepath.FromSlash(ex.rel)))
		case ex.resource:
			root := rootOf(ex.rel, roots)
			if rel, ok := strings.CutPrefix(ex.rel, prefix(root)); ok {
				resources[root] = append(resources[root], rel)
			}
		}
	}
	for _, f := range files {
		root := rootOf(f.rel, roots)
		resources[root] = append(resources[root], strings.TrimPrefix(f.rel, prefix(root)))
	}
	rootList := make([]string, 0, len(roots))
	for r := range roots {
		rootList = append(rootList, r)
	}
	sort.Strings(rootList)
	for _, root := range rootList {
		rel := prefix(root) + "kustomization.yaml"
		b, read := current[rel]
		if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(rel))); err == nil && (!read || !bytes.HasPrefix(b, []byte(kustomizeMarker))) {
			// Somebody else's (a file, or a link ppc never writes through).
			res.Notes = append(res.Notes, fmt.Sprintf("%s was not written by ppc: left as it is (list the new policies in it yourself)", filepath.Join(dir, filepath.FromSlash(rel))))
			continue
		}
		rs := resources[root]
		sort.Strings(rs)
		var k strings.Builder
		k.WriteString(kustomizeMarker)
		k.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n")
		for _, r := range rs {
			q, _ := yaml.Marshal(r) // quoted when YAML would misread it
			fmt.Fprintf(&k, "- %s", q)
		}
		files = append(files, file{rel: rel, doc: -1, b: []byte(k.String())})
		res.Kustomizations = append(res.Kustomizations, filepath.Join(dir, filepath.FromSlash(rel)))
	}

	// Every file is rendered, compared with what is there and, when it
	// differs, staged next to its target, on every core, one file at a
	// time: neither every file's YAML nor the old directory's content is
	// held at once (at 5,000 policies both were hundreds of MB). Nothing
	// is renamed into place before every file is staged.
	if !opts.DryRun {
		dirs := map[string]bool{}
		for _, f := range files {
			d := filepath.Dir(filepath.Join(dir, filepath.FromSlash(f.rel)))
			if !dirs[d] {
				dirs[d] = true
				more, err := mkdirs(d)
				made = append(made, more...)
				if err != nil {
					removeEmpty(made)
					return nil, fmt.Errorf("write policies: %w", err)
				}
			}
		}
	}
	changed := make([]bool, len(files))
	tmps := make([]string, len(files))
	errs := make([]error, len(files))
	parallel.For(context.Background(), len(files), func(i int) {
		f := files[i]
		dst := filepath.Join(dir, filepath.FromSlash(f.rel))
		b := f.b
		if f.doc >= 0 {
			if b, errs[i] = YAML(docs[f.doc]); errs[i] != nil {
				return
			}
			if present[f.rel] {
				if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, b) {
					return
				}
			}
		} else if old, ok := current[f.rel]; ok && bytes.Equal(old, b) {
			return
		}
		changed[i] = true
		if !opts.DryRun {
			if tmps[i], errs[i] = atomicfile.Stage(filepath.Dir(dst), b); errs[i] != nil {
				errs[i] = fmt.Errorf("write %s: %w", dst, errs[i])
			}
		}
	})
	cleanup := func() {
		for _, t := range tmps {
			if t != "" {
				os.Remove(t)
			}
		}
		removeEmpty(made)
	}
	for _, err := range errs {
		if err != nil {
			cleanup()
			return nil, err
		}
	}
	for i, f := range files {
		if changed[i] {
			res.Changed = append(res.Changed, filepath.Join(dir, filepath.FromSlash(f.rel)))
		}
	}
	if opts.DryRun {
		return res, nil
	}
	for i, f := range files {
		if tmps[i] == "" {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(f.rel))
		if err := os.Rename(tmps[i], dst); err != nil {
			cleanup()
			return nil, fmt.Errorf("write %s: %w", dst, err)
		}
		tmps[i] = ""
	}
	var emptied []string
	for _, rel := range stale {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return res, fmt.Errorf("remove %s: %w", p, err)
		}
		emptied = append(emptied, filepath.Dir(p))
	}
	// Directories the removals emptied go too (deepest first), never dir.
	sort.Sort(sort.Reverse(sort.StringSlice(emptied)))
	for _, d := range emptied {
		for d != dir && strings.HasPrefix(d, dir) {
			if os.Remove(d) != nil {
				break // not empty
			}
			d = filepath.Dir(d)
		}
	}
	return res, nil
}

// prefix is root as a path prefix ("" or "cluster/").
func prefix(root string) string {
	if root == "" {
		return ""
	}
	return root + "/"
}

// rootOf is the root (cluster directory, or "") a file belongs to.
func rootOf(rel string, roots map[string]bool) string {
	if first, _, ok := strings.Cut(rel, "/"); ok && first != "" && roots[first] {
		return first
	}
	return ""
}

// mkdirs makes dir and its missing parents and returns the ones it made,
// parents first.
func mkdirs(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || d == filepath.Dir(d) {
			break
		}
		missing = append(missing, d)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	made := make([]string, 0, len(missing))
	for i := len(missing) - 1; i >= 0; i-- {
		made = append(made, missing[i])
	}
	return made, nil
}

// removeEmpty removes the directories made (deepest first) that are
// still empty.
func removeEmpty(made []string) {
	for i := len(made) - 1; i >= 0; i-- {
		os.Remove(made[i]) // only if empty
	}
}

// existingFile is a file found under an output directory.
type existingFile struct {
	rel           string
	owned         bool // every document carries ppc's managed-by label (a kustomization: ppc's marker)
	resource      bool // a Kubernetes object (apiVersion and kind)
	kustomization bool
	temp          bool   // a temporary file of ppc's
	content       []byte // as read (kustomizations; YAML files up to maxOwnedFile that this run does not write)
	comparable    bool   // a file this run writes, small enough to compare (up to maxOwnedFile)
}

// scanDir lists the YAML files under dir (symbolic links and what they
// point to are never touched) and ppc's temporary files. A file at a path
// in want is one this run writes: WriteDir only compares its content,
// when it has rendered the new one, so it is neither read nor parsed here
// (parsing every policy of a directory ppc wrote before was most of the
// time rewriting it took).
func scanDir(dir string, want map[string]bool) ([]existingFile, error) {
	var out []existingFile
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				return fs.SkipAll // a dry run into a directory not made yet
			}
			return err
		}
		if d.IsDir() {
			if p != dir && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir // .git and the like
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		name := d.Name()
		switch {
		case strings.HasPrefix(name, ".ppc-") && strings.HasSuffix(name, ".tmp"):
			out = append(out, existingFile{rel: rel, temp: true})
		case name == "kustomization.yaml":
			f := existingFile{rel: rel, kustomization: true}
			if b, err := os.ReadFile(p); err == nil {
				f.owned, f.content = bytes.HasPrefix(b, []byte(kustomizeMarker)), b
			}
			out = append(out, f)
		case strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml"):
			f := existingFile{rel: rel}
			if info, err := d.Info(); err == nil && info.Size() <= maxOwnedFile {
				if want[rel] {
					f.comparable = true // read when it is compared, not classified
				} else if b, err := os.ReadFile(p); err == nil {
					f.owned, f.resource = classify(b)
				}
			}
			out = append(out, f)
		}
		return nil
	})
	return out, err
}

// classify reads a YAML file's documents: owned when every one carries
// ppc's managed-by label, resource when one is a Kubernetes object.
func classify(b []byte) (owned, resource bool) {
	docs := 0
	owned = true
	for _, part := range splitDocs(b) {
		var obj struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
		}
		if len(bytes.TrimSpace(part)) == 0 {
			continue
		}
		docs++
		if yaml.Unmarshal(part, &obj) != nil {
			return false, false
		}
		if obj.APIVersion != "" && obj.Kind != "" {
			resource = true
		}
		if obj.Metadata.Labels[ManagedBy] != "ppc" {
			owned = false
		}
	}
	return owned && docs > 0, resource
}

// splitDocs splits a YAML stream at its "---" lines.
func splitDocs(b []byte) [][]byte {
	var docs [][]byte
	start := 0
	for i := 0; i <= len(b); {
		end := bytes.IndexByte(b[i:], '\n')
		line := b[i:]
		next := len(b) + 1
		if end >= 0 {
			line, next = b[i:i+end], i+end+1
		}
		if t := bytes.TrimRight(line, " \t\r"); bytes.Equal(t, []byte("---")) || bytes.HasPrefix(t, []byte("--- ")) {
			docs = append(docs, b[start:i])
			start = min(next, len(b))
		}
		i = next
	}
	return append(docs, b[start:])
}
