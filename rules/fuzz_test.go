package rules

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/policypilot/ppc/schemas"
)

// FuzzSettings: any --set assignment either is rejected with an error or
// gives settings the schema accepts; nothing panics.
func FuzzSettings(f *testing.F) {
	for _, s := range []string{"namespaces=[a, b]", "max_ports_per_rule=0.5", "dns.ports=[53]", "a.b.c=", "=x", "world_egress.fold={ipv4: 40}", "ext.x=[1, {a: b}]"} {
		f.Add(s)
	}
	def, err := DefaultPack()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, set string) {
		_, cfg, err := Layer(def, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if SetConfig(cfg, set) != nil {
			return
		}
		_ = validateSettings(cfg, settingSources(def, nil, []string{set}), schemas.CheckSettings)
	})
}

// FuzzLoadPack: any rego and config.yaml content loads as a pack or is
// rejected with an error; nothing panics.
func FuzzLoadPack(f *testing.F) {
	f.Add("package ppc.ext.x\n\nexclude_namespace contains \"a\"\n", "ext: {x: 1}\n")
	f.Add("package ppc.hooks\n", "max_ports_per_rule: [")
	f.Add("package", "\x00")
	f.Fuzz(func(t *testing.T, rego, config string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "x.rego"), []byte(rego), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _ = LoadDir(dir)
	})
}
