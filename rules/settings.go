package rules

import (
	"fmt"
	"path/filepath"
	"strings"
)

// settingSources says, per dotted setting path, which source set it last:
// the built-in defaults, a pack's config.yaml, or a --set.
func settingSources(base *Pack, packs []*Pack, sets []string) map[string]string {
	src := map[string]string{}
	var walk func(prefix string, m map[string]any, who string)
	walk = func(prefix string, m map[string]any, who string) {
		for k, v := range m {
			p := prefix + k
			src[p] = who
			if sm, ok := v.(map[string]any); ok {
				walk(p+".", sm, who)
			}
		}
	}
	walk("", base.Config, "the built-in defaults")
	for _, p := range packs {
		walk("", p.Config, filepath.Join(p.Name, ConfigFile))
	}
	for _, s := range sets {
		k, v, _ := strings.Cut(s, "=")
		one := map[string]any{}
		_ = SetConfig(one, k+"="+v)
		walk("", one, "--set "+s)
	}
	return src
}

// SettingsCheck validates merged settings: one problem per invalid
// setting, as its path (as ir.JoinPath writes it) and what is wrong. ppc
// passes schemas.CheckSettings (rules itself does not depend on CUE; see
// DESIGN.md).
type SettingsCheck func(cfg map[string]any) (paths, msgs []string, err error)

// validateSettings checks the merged settings with check: every error
// names the setting, what is wrong and who set it.
func validateSettings(cfg map[string]any, src map[string]string, check SettingsCheck) error {
	if check == nil {
		return nil
	}
	paths, msgs, err := check(cfg)
	if err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	if len(paths) == 0 {
		return nil
	}
	var lines []string
	for i, path := range paths {
		who := ""
		for p := path; p != ""; {
			if s, ok := src[p]; ok {
				who = " (set by " + s + ")"
				break
			}
			i := strings.LastIndexAny(p, ".[")
			if i < 0 {
				break
			}
			p = p[:i]
		}
		msg := msgs[i]
		if strings.Contains(msg, "field not allowed") {
			msg = "unknown setting (see rules/packs/default/config.yaml for the settings; an organisation's own go under ext)"
		}
		lines = append(lines, fmt.Sprintf("setting %s: %s%s", path, msg, who))
	}
	return fmt.Errorf("%d invalid settings:\n  %s", len(lines), strings.Join(lines, "\n  "))
}
