package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Options are what every output format may use.
type Options struct {
	// Cwd: file paths below it are shown relative to it.
	Cwd string
	// Verbose lists everything, not only what failed.
	Verbose bool
	// Color paints text with ANSI colours (only on a terminal).
	Color bool
	// Version is ppc's version, for formats that name their tool.
	Version string
}

// A Writer writes one command's result in one format.
type Writer[T any] func(w io.Writer, v T, o Options) error

// Formats is one command's registry of output formats (the -o values),
// in the order they are registered: the command checks its flag with
// Check and writes with Write, so every format a command has lives here,
// in reports, and nowhere else.
type Formats[T any] struct {
	names []string
	by    map[string]Writer[T]
}

// NewFormats returns an empty registry.
func NewFormats[T any]() *Formats[T] {
	return &Formats[T]{by: map[string]Writer[T]{}}
}

// Register adds a format; a name registered twice is a programming error.
func (f *Formats[T]) Register(name string, w Writer[T]) *Formats[T] {
	if _, dup := f.by[name]; dup {
		panic("reports: format " + name + " registered twice")
	}
	f.names = append(f.names, name)
	f.by[name] = w
	return f
}

// Names lists the formats in registration order.
func (f *Formats[T]) Names() []string { return append([]string(nil), f.names...) }

// Check reports whether name is a registered format, with an error that
// lists them all when it is not.
func (f *Formats[T]) Check(name string) error {
	if _, ok := f.by[name]; ok {
		return nil
	}
	want := strings.Join(f.names, ", ")
	if i := strings.LastIndex(want, ", "); i >= 0 {
		want = want[:i] + " or " + want[i+2:]
	}
	return fmt.Errorf("-o %q: want %s", name, want)
}

// Write writes v in the named format.
func (f *Formats[T]) Write(w io.Writer, name string, v T, o Options) error {
	if err := f.Check(name); err != nil {
		return err
	}
	return f.by[name](w, v, o)
}

// WriteSARIF writes one SARIF 2.1.0 log of ppc's run: its rules (the
// reportingDescriptor objects) and results, indented, ppc named as the
// tool with o.Version.
func WriteSARIF(w io.Writer, rules, results any, o Options) error {
	driver := map[string]any{"name": "ppc", "informationUri": "https://github.com/policypilot/ppc", "rules": rules}
	if o.Version != "" {
		driver["version"] = o.Version
	}
	log := map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool":    map[string]any{"driver": driver},
			"results": results,
		}},
	}
	b, err := json.MarshalIndent(log, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
