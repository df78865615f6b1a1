package manifest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/policypilot/ppc/ir"
)

// IsRevision reports whether arg names policies in a git revision,
// "REV:PATH" as git show names them (main:policies/, HEAD~1:p.yaml),
// rather than a file: it holds a colon and no file of that name exists.
func IsRevision(arg string) bool {
	if arg == "-" || !strings.Contains(arg, ":") {
		return false
	}
	_, err := os.Stat(arg)
	return os.IsNotExist(err)
}

// ReadSet reads one policy set named on the command line: a file, a
// directory, "-" (stdin) or a git REV:PATH (ExpandRevision); the objects,
// and the documents that could not be read.
func ReadSet(ctx context.Context, arg string, stdin io.Reader) ([]Object, ir.Diagnostics, error) {
	var ins []Input
	var err error
	if IsRevision(arg) {
		ins, err = ExpandRevision(ctx, arg)
	} else {
		ins, err = Expand([]string{arg})
	}
	if err != nil {
		return nil, nil, err
	}
	return Read(ins, stdin)
}

// ExpandRevision resolves "REV:PATH" into inputs read from the git
// repository of the working directory: PATH is a file or a directory
// (relative to the working directory, as on disk), and every *.yaml,
// *.yml and *.json file below it in REV is an input named
// "REV:path/in/repo". A revision or path git does not know is an error.
func ExpandRevision(ctx context.Context, spec string) ([]Input, error) {
	rev, path, _ := strings.Cut(spec, ":")
	if rev == "" {
		return nil, fmt.Errorf("%s: no revision before the colon (want REV:PATH, such as main:policies/)", spec)
	}
	if path == "" {
		path = "."
	}
	out, err := git(ctx, "ls-tree", "-r", "--full-name", "--name-only", rev, "--", path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec, err)
	}
	var ins []Input
	for _, name := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if name == "" || !isManifestName(name) || hidden(name) {
			continue
		}
		data, err := git(ctx, "cat-file", "blob", rev+":"+name)
		if err != nil {
			return nil, fmt.Errorf("%s:%s: %w", rev, name, err)
		}
		ins = append(ins, Input{Name: rev + ":" + name, R: bytes.NewReader(data)})
	}
	if len(ins) == 0 {
		return nil, fmt.Errorf("%s: no .yaml, .yml or .json files at that path in that revision", spec)
	}
	return ins, nil
}

// hidden reports whether a repository path has a hidden element, which
// Expand skips on disk too.
func hidden(name string) bool {
	for _, el := range strings.Split(name, "/") {
		if strings.HasPrefix(el, ".") {
			return true
		}
	}
	return false
}

// git runs git with its output bounded by MaxFileSize.
func git(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	var stdout, stderr limitedBuffer
	stdout.max, stderr.max = MaxFileSize, 4096
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return nil, fmt.Errorf("git %s: %s", args[0], msg)
		}
		return nil, fmt.Errorf("git %s: %w", args[0], err)
	}
	if stdout.over {
		return nil, fmt.Errorf("git %s: more than %d MiB", args[0], MaxFileSize>>20)
	}
	return stdout.Bytes(), nil
}

// limitedBuffer keeps at most max bytes and remembers that more came.
type limitedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.over = true
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
