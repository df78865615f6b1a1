package ir

import (
	"fmt"
	"sort"
	"strings"
)

// Severity ranks a Diagnostic.
type Severity int

// Severities, from least to most severe.
const (
	Info Severity = iota
	Warning
	Error
)

// String returns the lower-case name of the severity.
func (s Severity) String() string {
	switch s {
	case Info:
		return "info"
	case Warning:
		return "warning"
	default:
		return "error"
	}
}

// MarshalText encodes the severity as its name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "info":
		*s = Info
	case "warning":
		*s = Warning
	case "error":
		*s = Error
	default:
		return fmt.Errorf("unknown severity %q", b)
	}
	return nil
}

// Pos is a source position: a flows file and line (Col is zero), or a rule
// file, line and column. File "-" is standard input.
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

// IsValid reports whether the position names a file.
func (p Pos) IsValid() bool { return p.File != "" }

// String formats the position as file:line[:col].
func (p Pos) String() string {
	switch {
	case p.File == "":
		return ""
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	default:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	}
}

// Less orders positions by file, then line, then column.
func (p Pos) Less(q Pos) bool {
	if p.File != q.File {
		return p.File < q.File
	}
	if p.Line != q.Line {
		return p.Line < q.Line
	}
	return p.Col < q.Col
}

// Diagnostic is one problem found by a stage. Codes are stable, snake_case
// and start with "ppc_".
type Diagnostic struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	Stage    string   `json:"stage,omitempty"`
	Pos      Pos      `json:"pos,omitzero"`
	Related  []Pos    `json:"related,omitempty"`
	Object   string   `json:"object,omitempty"` // e.g. the policy "namespace/name" the diagnostic is about
	Path     []string `json:"path,omitempty"`   // data path inside Object, e.g. spec, ingress[0], toPorts[0]
	Msg      string   `json:"msg"`
	Details  []string `json:"details,omitempty"`
}

// Error formats the diagnostic on one line.
func (d *Diagnostic) Error() string {
	var b strings.Builder
	if d.Pos.IsValid() {
		b.WriteString(d.Pos.String())
		b.WriteString(": ")
	}
	if d.Object != "" {
		b.WriteString(d.Object)
		b.WriteString(": ")
	}
	if len(d.Path) > 0 {
		b.WriteString(JoinPath(d.Path))
		b.WriteString(": ")
	}
	b.WriteString(d.Code)
	b.WriteString(": ")
	b.WriteString(d.Msg)
	return b.String()
}

// JoinPath renders a data path: elements are joined with dots, except list
// indexes ("[3]"), which attach to the element before them.
func JoinPath(path []string) string {
	var b strings.Builder
	for i, p := range path {
		if i > 0 && !strings.HasPrefix(p, "[") {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// Errorf builds an error diagnostic.
func Errorf(code string, pos Pos, format string, args ...any) *Diagnostic {
	return &Diagnostic{Code: code, Severity: Error, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// Warnf builds a warning diagnostic.
func Warnf(code string, pos Pos, format string, args ...any) *Diagnostic {
	return &Diagnostic{Code: code, Severity: Warning, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// Diagnostics is a list of diagnostics. It implements error.
type Diagnostics []*Diagnostic

// Error joins the diagnostics, one per line.
func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.Error()
	}
	return strings.Join(lines, "\n")
}

// Err returns ds as an error if it holds at least one error-level diagnostic.
func (ds Diagnostics) Err() error {
	if ds.HasErrors() {
		return ds
	}
	return nil
}

// HasErrors reports whether any diagnostic has Error severity.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity >= Error {
			return true
		}
	}
	return false
}

// Count returns how many diagnostics have at least severity s.
func (ds Diagnostics) Count(s Severity) int {
	n := 0
	for _, d := range ds {
		if d.Severity >= s {
			n++
		}
	}
	return n
}

// Sort orders diagnostics by position, object, path, code and message, so
// that printed output is deterministic.
func (ds Diagnostics) Sort() {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.Pos != b.Pos {
			return a.Pos.Less(b.Pos)
		}
		if a.Object != b.Object {
			return a.Object < b.Object
		}
		if pa, pb := JoinPath(a.Path), JoinPath(b.Path); pa != pb {
			return pa < pb
		}
		if a.Code != b.Code {
			return a.Code < b.Code
		}
		return a.Msg < b.Msg
	})
}
