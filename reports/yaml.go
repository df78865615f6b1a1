package reports

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/policypilot/ppc/compiler"
)

// Doc is one policy document the compiler produced (compiler.Doc): its
// cluster, namespace and name, and the JSON bytes that were verified. The
// YAML written is derived from exactly these bytes.
type Doc = compiler.Doc

// YAML renders one document. Keys are sorted and every string that YAML
// could misread (labels, DNS names, anything from the cluster) is quoted by
// the encoder.
func YAML(d Doc) ([]byte, error) {
	b, err := yaml.JSONToYAML(d.JSON)
	if err != nil {
		return nil, fmt.Errorf("render %s/%s: %w", d.Namespace, d.Name, err)
	}
	return b, nil
}

// Stream renders the documents as one multi-document YAML stream.
func Stream(docs []Doc) ([]byte, error) {
	var buf bytes.Buffer
	for i, d := range docs {
		b, err := YAML(d)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

// WriteFileAtomic writes b to path (creating its directory) through a
// temporary file and a rename.
func WriteFileAtomic(path string, b []byte) error {
	return WriteFileAtomicFunc(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// WriteFileAtomicFunc streams what write writes to path (creating its
// directory) through a temporary file and a rename: the file appears
// whole or not at all, and a failing write leaves nothing behind.
func WriteFileAtomicFunc(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := stageFunc(filepath.Dir(path), write)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// stage writes b to a new temporary file in dir (mode 0644) and returns
// its name; on error nothing is left behind.
func stage(dir string, b []byte) (string, error) {
	return stageFunc(dir, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// stageFunc is stage with the content streamed by write.
func stageFunc(dir string, write func(io.Writer) error) (string, error) {
	f, err := os.CreateTemp(dir, ".ppc-*.tmp")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

// safeSegment rejects names that would escape the output directory. Names
// are DNS subdomains once verified; this guards the file system even so.
func safeSegment(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`+"\x00")
}
