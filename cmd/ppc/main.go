// Command ppc is the PolicyPilot policy compiler: it turns Hubble flows
// into least-privilege CiliumNetworkPolicies and proves them with Cilium's
// own validation and policy engine. Run `ppc help` for the commands.
package main

import (
	"os"

	"github.com/policypilot/ppc/cmd/ppc/cli"
	"github.com/policypilot/ppc/internal/memlimit"
)

func main() {
	stop := memlimit.Start(memlimit.Floor, memlimit.Ceiling)
	code := cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
