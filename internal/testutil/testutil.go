// Package testutil holds helpers shared by ppc's tests: the PPC_UPDATE
// switch that rewrites golden files, and the repository's testdata path.
package testutil

import (
	"os"
	"path/filepath"
	"runtime"
)

// Update reports whether golden files should be rewritten (PPC_UPDATE=1).
// An environment variable, unlike a -update flag, works with `go test ./...`
// across packages that do not define the flag.
func Update() bool { return os.Getenv("PPC_UPDATE") != "" }

// Testdata is the absolute path of the repository's testdata directory.
func Testdata() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata")
}
