// Package walk lists the files under a directory as ppc reads input
// directories: symbolic links are followed (a ConfigMap mounted as a
// volume is a directory of links), each real directory is visited once
// (a link loop ends), and hidden entries (names starting with ".", such
// as a ConfigMap's ..data) are skipped.
package walk

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Files returns the regular files under root whose names keep accepts,
// sorted, named by the path they were reached through.
func Files(root string, keep func(name string) bool) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	var visit func(dir string) error
	visit = func(dir string) error {
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return err
		}
		if seen[real] {
			return nil // a link back to a directory already listed
		}
		seen[real] = true
		ents, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") {
				continue
			}
			p := filepath.Join(dir, e.Name())
			fi, err := os.Stat(p) // follows links
			if err != nil {
				return err
			}
			switch {
			case fi.IsDir():
				if err := visit(p); err != nil {
					return err
				}
			case fi.Mode().IsRegular() && keep(e.Name()):
				out = append(out, p)
			}
		}
		return nil
	}
	if err := visit(root); err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}
