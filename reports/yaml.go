package reports

import (
	"bytes"
	"fmt"
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

// safeSegment rejects names that would escape the output directory. Names
// are DNS subdomains once verified; this guards the file system even so.
func safeSegment(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`+"\x00")
}
