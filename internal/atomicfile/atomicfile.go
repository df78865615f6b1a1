// Package atomicfile owns how ppc writes a file: through a temporary file
// in the destination's directory and a rename, so that a file appears
// whole or not at all and an interrupted or failing write leaves nothing
// behind. Every command that writes a file (policies, IR snapshots,
// reports, formatted rule packs) writes it through this package.
package atomicfile

import (
	"io"
	"os"
	"path/filepath"
)

// Write writes b to path (creating its directory) through a temporary
// file and a rename.
func Write(path string, b []byte) error {
	return WriteFunc(path, bytesWriter(b))
}

// WriteFunc streams what write writes to path (creating its directory)
// through a temporary file and a rename: the file appears whole or not at
// all, and a failing write leaves nothing behind.
func WriteFunc(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := StageFunc(filepath.Dir(path), write)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// Stage writes b to a new temporary file in dir (mode 0644) and returns
// its name, for a caller that renames several files into place together;
// on error nothing is left behind.
func Stage(dir string, b []byte) (string, error) {
	return StageFunc(dir, bytesWriter(b))
}

// StageFunc is Stage with the content streamed by write.
func StageFunc(dir string, write func(io.Writer) error) (string, error) {
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

func bytesWriter(b []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}
}
