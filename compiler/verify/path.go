package verify

import "strings"

// splitPath turns "spec.ingress[0].toPorts" into
// ["spec", "ingress", "[0]", "toPorts"], the form of ir.Diagnostic.Path.
func splitPath(p string) []string {
	var out []string
	for _, part := range strings.Split(p, ".") {
		if part == "" {
			continue
		}
		for {
			i := strings.IndexByte(part, '[')
			if i < 0 {
				out = append(out, part)
				break
			}
			if i > 0 {
				out = append(out, part[:i])
			}
			j := strings.IndexByte(part[i:], ']')
			if j < 0 {
				out = append(out, part[i:])
				break
			}
			out = append(out, part[i:i+j+1])
			part = part[i+j+1:]
			if part == "" {
				break
			}
		}
	}
	return out
}
