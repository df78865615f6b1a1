package cli

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/policypilot/ppc/internal/app"
	"github.com/policypilot/ppc/reports/verifyreport"
)

type verifyParams struct {
	agent     agentFlags
	namespace string
	schemas   []string
	format    string
	verbose   bool
}

func init() {
	register(&command{
		name:  "verify",
		usage: "[flags] POLICY_PATH|- ...",
		short: "check CiliumNetworkPolicies as the API server and the Cilium agent would",
		long: `Checks every CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and
Kubernetes NetworkPolicy in the
given files, directories (recursively: *.yaml, *.yml, *.json) or stdin ("-"),
multi-document YAML and List objects included, with Kubernetes' and Cilium's
own code, and reports every problem with its file, document, policy, layer
and data path:

  schema  the API server would reject it (kubectl apply fails);
  agent   the API server accepts it, but the Cilium agent rejects it and
          does NOT enforce it: the dangerous class, nothing tells you;
  org     a constraint of an organisation CUE schema (--schemas).

Objects of other kinds are counted and skipped. An object without
metadata.namespace is checked in the namespace -n names, as kubectl apply
would send it. The agent checks use Cilium's default agent settings unless
a flag below says otherwise.

Exit status: 0 every policy is valid, 1 some policy is invalid, 2 usage
error, unreadable input or no policy found.`,
		setup: func(fs *pflag.FlagSet) func(context.Context, app.IO, []string) error {
			p := &verifyParams{}
			fs.StringVarP(&p.namespace, "namespace", "n", "default", "namespace of objects that name none (as kubectl apply -n)")
			fs.StringArrayVar(&p.schemas, "schemas", nil, "also check policies against the CUE #Policy in `DIR` (repeatable)")
			fs.StringVarP(&p.format, "output", "o", "text", "output format: text or json")
			fs.BoolVarP(&p.verbose, "verbose", "v", false, "list valid policies too")
			p.agent.register(fs)
			return func(ctx context.Context, o app.IO, args []string) error { return runVerify(ctx, o, p, args) }
		},
	})
}

func runVerify(ctx context.Context, o app.IO, p *verifyParams, args []string) error {
	if len(args) == 0 {
		return usageErr("no input: give policy files, directories or - for stdin (usage: ppc verify POLICY_PATH...)")
	}
	if err := verifyreport.Formats.Check(p.format); err != nil {
		return usageErr("%v", err)
	}
	settings, err := p.agent.settings()
	if err != nil {
		return usageErr("%v", err)
	}
	v := &app.Verify{Policies: args, Agent: settings, Schemas: p.schemas, Namespace: p.namespace, Format: p.format, Verbose: p.verbose}
	return v.Run(ctx, o)
}
