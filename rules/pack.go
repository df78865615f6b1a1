package rules

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"sigs.k8s.io/yaml"
)

//go:embed packs/default/*.rego packs/default/config.yaml
var defaultFS embed.FS

// ConfigFile is the settings file of a pack, merged into data.ppc.config.
const ConfigFile = "config.yaml"

// StagePackages are the packages of the default pack. A pack that declares
// one of them replaces the default pack's modules of that package.
var StagePackages = []string{"ppc.lib", "ppc.hooks", "ppc.identity", "ppc.synth", "ppc.gate"}

// Module is one parsed Rego file of a pack.
type Module struct {
	Path   string // as shown in diagnostics: "default/synth.rego" or the file path
	Module *ast.Module
	Test   bool // a *_test.rego file
}

// Package returns the module's package path without the "data." prefix.
func (m Module) Package() string {
	return strings.TrimPrefix(m.Module.Package.Path.String(), "data.")
}

// Pack is a loaded rule pack.
type Pack struct {
	Name    string
	Modules []Module
	Config  map[string]any
}

// DefaultPack loads the embedded default pack.
func DefaultPack() (*Pack, error) {
	sub, err := fs.Sub(defaultFS, "packs/default")
	if err != nil {
		return nil, err
	}
	return loadFS("default", sub, func(p string) string { return "default/" + p })
}

// LoadDirs loads the packs at paths, in order (LoadDir).
func LoadDirs(paths []string) ([]*Pack, error) {
	var out []*Pack
	for _, p := range paths {
		pack, err := LoadDir(p)
		if err != nil {
			return nil, err
		}
		out = append(out, pack)
	}
	return out, nil
}

// LoadDir loads an organisation pack: a directory (every *.rego file below
// it and its config.yaml, if any) or an OPA bundle tarball (*.tar.gz or
// *.tgz: its modules, and its data document as the pack's settings; the
// manifest's roots are checked against the modules by OPA's reader).
func LoadDir(dir string) (*Pack, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("load rule pack: %w", err)
	}
	if !fi.IsDir() {
		if strings.HasSuffix(dir, ".tar.gz") || strings.HasSuffix(dir, ".tgz") {
			return loadBundle(dir)
		}
		return nil, fmt.Errorf("load rule pack %s: not a directory or a bundle (.tar.gz)", dir)
	}
	return loadFS(filepath.Base(filepath.Clean(dir)), os.DirFS(dir), func(p string) string { return filepath.Join(dir, filepath.FromSlash(p)) })
}

func loadFS(name string, fsys fs.FS, display func(string) string) (*Pack, error) {
	p := &Pack{Name: name, Config: map[string]any{}}
	var files []string
	err := fs.WalkDir(fsys, ".", func(pth string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if pth != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(pth, ".rego") || pth == ConfigFile {
			files = append(files, pth)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load rule pack %s: %w", name, err)
	}
	sort.Strings(files)
	var errs ast.Errors
	for _, f := range files {
		src, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("load rule pack %s: %w", name, err)
		}
		if f == ConfigFile {
			if err := yaml.Unmarshal(src, &p.Config); err != nil {
				return nil, fmt.Errorf("%s: %w", display(f), err)
			}
			continue
		}
		m, err := ast.ParseModuleWithOpts(display(f), string(src), ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true})
		if err != nil {
			if es, ok := err.(ast.Errors); ok {
				errs = append(errs, es...)
				continue
			}
			return nil, err
		}
		p.Modules = append(p.Modules, Module{Path: display(f), Module: m, Test: strings.HasSuffix(path.Base(f), "_test.rego")})
	}
	if len(errs) > 0 {
		return nil, compileError(errs)
	}
	if len(p.Modules) == 0 && len(p.Config) == 0 {
		return nil, fmt.Errorf("load rule pack %s: no .rego files and no %s", name, ConfigFile)
	}
	return p, nil
}

// loadBundle reads an OPA bundle tarball with OPA's bundle reader.
func loadBundle(file string) (*Pack, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("load rule pack: %w", err)
	}
	defer f.Close()
	b, err := bundle.NewReader(f).WithRegoVersion(ast.RegoV1).Read()
	if err != nil {
		return nil, fmt.Errorf("load rule pack %s: %w", file, err)
	}
	name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(file), ".tgz"), ".tar.gz")
	p := &Pack{Name: name, Config: map[string]any{}}
	if b.Data != nil {
		p.Config = b.Data
	}
	var errs ast.Errors
	for _, mf := range b.Modules {
		rel := strings.TrimPrefix(mf.Path, "/")
		display := file + ":" + rel
		m, err := ast.ParseModuleWithOpts(display, string(mf.Raw), ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true})
		if err != nil {
			if es, ok := err.(ast.Errors); ok {
				errs = append(errs, es...)
				continue
			}
			return nil, err
		}
		p.Modules = append(p.Modules, Module{Path: display, Module: m, Test: strings.HasSuffix(path.Base(rel), "_test.rego")})
	}
	if len(errs) > 0 {
		return nil, compileError(errs)
	}
	sort.Slice(p.Modules, func(i, j int) bool { return p.Modules[i].Path < p.Modules[j].Path })
	if len(p.Modules) == 0 && len(p.Config) == 0 {
		return nil, fmt.Errorf("load rule pack %s: the bundle holds no modules and no data", file)
	}
	return p, nil
}

// Layer composes packs over the default pack, in order. For each pack, a
// module whose package is a stage package replaces the default modules of
// that package; ppc.ext.* and any other package is added. Settings are
// deep-merged (later packs win; lists are replaced, not appended). Test
// modules are kept only if withTests.
func Layer(base *Pack, packs []*Pack, withTests bool) ([]Module, map[string]any, error) {
	mods := append([]Module(nil), base.Modules...)
	cfg := map[string]any{}
	MergeConfig(cfg, base.Config)
	for _, p := range packs {
		replaced := map[string]bool{}
		for _, m := range p.Modules {
			pkg := m.Package()
			if isStage(pkg) && !replaced[pkg] && !m.Test {
				replaced[pkg] = true
				kept := mods[:0]
				for _, old := range mods {
					if old.Package() != pkg || old.Test {
						kept = append(kept, old)
					}
				}
				mods = kept
			}
			if pkg == "ppc.config" || strings.HasPrefix(pkg, "ppc.config.") {
				return nil, nil, fmt.Errorf("%s: package %s is reserved for settings; put them in %s", m.Path, pkg, ConfigFile)
			}
		}
		mods = append(mods, p.Modules...)
		MergeConfig(cfg, p.Config)
	}
	if !withTests {
		kept := mods[:0]
		for _, m := range mods {
			if !m.Test {
				kept = append(kept, m)
			}
		}
		mods = kept
	}
	return mods, cfg, nil
}

func isStage(pkg string) bool {
	for _, s := range StagePackages {
		if s == pkg {
			return true
		}
	}
	return false
}

// MergeConfig deep-merges src into dst: maps merge key by key, anything
// else (scalars, lists) is replaced.
func MergeConfig(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				MergeConfig(dm, sm)
				continue
			}
			c := map[string]any{}
			MergeConfig(c, sm)
			dst[k] = c
			continue
		}
		dst[k] = v
	}
}

// SetConfig applies a "--set key.path=value" override; value is parsed as
// YAML (so numbers, booleans and lists work) and falls back to a string.
func SetConfig(cfg map[string]any, assignment string) error {
	key, val, ok := strings.Cut(assignment, "=")
	if !ok || key == "" {
		return fmt.Errorf("--set %q: want key=value", assignment)
	}
	var v any
	if err := yaml.Unmarshal([]byte(val), &v); err != nil || v == nil {
		v = val
	}
	parts := strings.Split(key, ".")
	m := cfg
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
	return nil
}

// LoadFS loads a pack from a file system (e.g. an embedded one); display
// maps a file's path to how diagnostics show it.
func LoadFS(name string, fsys fs.FS, display func(string) string) (*Pack, error) {
	return loadFS(name, fsys, display)
}
