// Package mermaid embeds Mermaid (https://mermaid.js.org), the diagram
// renderer ppc's HTML reports inline so that they work offline. It is the
// npm package's dist/mermaid.min.js, unmodified, stored gzipped; VERSION
// records the version, the npm tarball's integrity and the script's
// SHA-256 (checked by a test), LICENSE its licence (MIT; the licences of
// the libraries it bundles are kept in the script's comments). Refresh it
// with `make vendor-mermaid MERMAID_VERSION=x.y.z`.
package mermaid

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"strings"
	"sync"
)

//go:embed mermaid.min.js.gz
var gz []byte

//go:embed VERSION
var versionFile string

var (
	once   sync.Once
	script []byte
	err    error
)

// Script returns mermaid.min.js.
func Script() ([]byte, error) {
	once.Do(func() {
		var r *gzip.Reader
		if r, err = gzip.NewReader(bytes.NewReader(gz)); err != nil {
			return
		}
		script, err = io.ReadAll(r)
		if err != nil {
			err = fmt.Errorf("third_party/mermaid: %w", err)
		}
	})
	return script, err
}

// Field returns a field of VERSION: "version", "npm-integrity" or
// "sha256".
func Field(name string) string {
	for _, l := range strings.Split(versionFile, "\n") {
		if k, v, ok := strings.Cut(l, " "); ok && k == name {
			v, _, _ = strings.Cut(v, " ")
			return v
		}
	}
	return ""
}

// Version is the vendored Mermaid version.
func Version() string { return Field("version") }
