package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/pflag"

	"github.com/policypilot/ppc/internal/app"
)

func init() {
	register(&command{
		name:  "version",
		short: "print ppc's version and the Cilium, OPA and CUE versions it embeds",
		long:  "Prints ppc's version and the versions of the Cilium, OPA and CUE modules it was built with.",
		setup: func(fs *pflag.FlagSet) func(context.Context, app.IO, []string) error {
			return func(_ context.Context, o app.IO, args []string) error {
				if len(args) > 0 {
					return usageErr("version takes no arguments")
				}
				fmt.Fprintf(o.Stdout, "ppc %s (%s)\n", Version, runtime.Version())
				if bi, ok := debug.ReadBuildInfo(); ok {
					for _, d := range bi.Deps {
						switch d.Path {
						case "github.com/cilium/cilium", "github.com/open-policy-agent/opa", "cuelang.org/go":
							fmt.Fprintf(o.Stdout, "  %s %s\n", d.Path, d.Version)
						}
					}
				}
				return nil
			}
		},
	})
}
