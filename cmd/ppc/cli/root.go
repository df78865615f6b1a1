// Package cli is ppc's command table: it parses and checks flags (pflag),
// fills a request of internal/app (which runs the command: stages,
// diagnostics, reports) and maps how it ended to an exit code (0 ok, 1 the
// output failed verification, replay or a gate, 2 usage, input or
// internal error). Nothing here calls os.Exit.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/policypilot/ppc/internal/app"
	"github.com/policypilot/ppc/internal/profiling"
)

// Version is set at build time with -ldflags -X.
var Version = "dev"

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // the output failed verification, replay or a gate (app.ErrFailed)
	exitFailure = 2 // usage, input or internal error
)

func usageErr(format string, args ...any) error { return app.Usage(format, args...) }

// command is one entry of the command table.
type command struct {
	name  string
	usage string // after "ppc NAME"
	short string
	long  string
	// setup registers flags and returns the run function bound to them.
	setup func(fs *pflag.FlagSet) func(ctx context.Context, o app.IO, args []string) error
}

var commands []*command

func register(c *command) { commands = append(commands, c) }

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// Main runs ppc with the given arguments and returns the exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return MainContext(ctx, args, stdin, stdout, stderr)
}

// exitInterrupted is the exit status after Ctrl-C (128 + SIGINT), as
// shells report it.
const exitInterrupted = 130

// MainContext is Main under ctx: when ctx ends (Ctrl-C), the command stops
// at once, writes nothing more and exits with status 130.
func MainContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cwd, _ := os.Getwd()
	o := app.IO{Stdin: stdin, Stdout: stdout, Stderr: stderr, Cwd: cwd}
	if len(args) == 0 {
		printHelp(stderr)
		return exitFailure
	}
	name := args[0]
	switch name {
	case "help", "-h", "--help":
		if len(args) > 1 {
			if c := lookup(args[1]); c != nil {
				fs := newFlagSet(c, stdout)
				c.setup(fs)
				fs.Usage()
				return exitOK
			}
			fmt.Fprintf(stderr, "ppc: unknown command %q\n", args[1])
			return exitFailure
		}
		printHelp(stdout)
		return exitOK
	case "--version":
		name = "version"
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(stderr, "ppc: unknown command %q; run 'ppc help'\n", name)
		return exitFailure
	}
	fs := newFlagSet(c, stderr)
	run := c.setup(fs)
	prof := &profiling.Profiler{}
	fs.StringVar(&prof.CPU, "cpuprofile", "", "write a CPU profile to `FILE` (for reporting slowness: go tool pprof FILE)")
	fs.StringVar(&prof.Mem, "memprofile", "", "write a heap profile to `FILE` when the command ends")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "ppc %s: %v\nrun 'ppc help %s' for usage\n", c.name, err, c.name)
		return exitFailure
	}
	if err := prof.Start(); err != nil {
		fmt.Fprintf(stderr, "ppc %s: --cpuprofile: %v\n", c.name, err)
		return exitFailure
	}
	err := run(ctx, o, fs.Args())
	if perr := prof.Stop(); perr != nil {
		fmt.Fprintf(stderr, "ppc %s: writing the profile: %v\n", c.name, perr)
	}
	if ctx.Err() != nil && !errors.Is(err, app.ErrStopped) {
		fmt.Fprintf(stderr, "ppc %s: interrupted: stopped, nothing more written\n", c.name)
		return exitInterrupted
	}
	switch {
	case err == nil || errors.Is(err, app.ErrStopped):
		return exitOK
	case errors.Is(err, app.ErrFailed):
		return exitFailed
	case errors.Is(err, app.ErrReported):
		return exitFailure
	}
	fmt.Fprintf(stderr, "ppc %s: %v\n", c.name, err)
	var ue *app.UsageError
	if errors.As(err, &ue) && strings.Contains(err.Error(), "usage") {
		fmt.Fprintf(stderr, "run 'ppc help %s' for usage\n", c.name)
	}
	return exitFailure
}

func newFlagSet(c *command, w io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("ppc "+c.name, pflag.ContinueOnError)
	fs.SetOutput(w)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprintf(w, "usage: ppc %s %s\n\n%s\n", c.name, c.usage, strings.TrimSpace(c.long))
		if fs.HasFlags() {
			fmt.Fprintf(w, "\nFlags:\n%s", fs.FlagUsages())
		}
	}
	return fs
}

func printHelp(w io.Writer) {
	fmt.Fprintf(w, "ppc — the PolicyPilot policy compiler: Hubble flows in, least-privilege\nCiliumNetworkPolicies out, proved with Cilium's own validation and policy engine.\n\nusage: ppc COMMAND [flags] [args]\n\nCommands:\n")
	cs := append([]*command(nil), commands...)
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.short)
	}
	fmt.Fprintf(w, "\nRun 'ppc help COMMAND' for a command's flags.\nExit status: 0 ok, 1 output failed verification, replay or a gate, 2 usage, input or internal error.\n")
}
