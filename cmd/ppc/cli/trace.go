package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/policypilot/ppc/internal/app"
	"github.com/policypilot/ppc/reports/tracereport"
)

type traceParams struct {
	from, to, port  string
	flow            string
	flows           []string
	format          string
	policyNamespace string
	agent           agentFlags
}

func init() {
	register(&command{
		name:  "trace",
		usage: "--from SRC --to DST --port PORT[/PROTO] [flags] POLICY_PATH|- ...",
		short: "why Cilium would allow or deny one connection under these policies",
		long: `Loads the policies into Cilium's own policy engine as replay does and
decides one connection, which need not have happened: the verdict at the
source's egress and at the destination's ingress, the policies that select
each end, the rules that allowed or denied it (file and line), default deny
or an explicit deny, and the L7 rules the proxy would apply.

SRC and DST: namespace/name (a workload of --flows), labels
(k8s:app=web,k8s:io.kubernetes.pod.namespace=shop), an entity (world, host,
remote-node, kube-apiserver, …), an IP address or CIDR, or a DNS name.
PORT: 8080, 8080/TCP, 53/UDP, 8/ICMPv4. --flow FILE:LINE traces the
connection of one recorded flow instead.

Exit status: 0 allowed, 1 denied, 2 usage or input error.`,
		setup: func(fs *pflag.FlagSet) func(context.Context, app.IO, []string) error {
			p := &traceParams{}
			fs.StringVar(&p.from, "from", "", "the source `SRC`")
			fs.StringVar(&p.to, "to", "", "the destination `DST`")
			fs.StringVar(&p.port, "port", "", "the destination `PORT[/PROTO]` (protocol TCP unless given)")
			fs.StringArrayVar(&p.flows, "flows", nil, "flows or IR snapshots whose workloads SRC and DST may name (repeatable)")
			fs.StringVar(&p.flow, "flow", "", "trace the recorded flow at `FILE:LINE` instead of --from, --to and --port")
			fs.StringVarP(&p.format, "output", "o", "text", "output format: "+strings.Join(tracereport.Formats.Names(), " or "))
			fs.StringVar(&p.policyNamespace, "policy-namespace", "default", "namespace of CiliumNetworkPolicies that name none (as kubectl apply -n)")
			p.agent.register(fs)
			return func(ctx context.Context, o app.IO, args []string) error { return runTrace(ctx, o, p, args) }
		},
	})
}

// parsePort reads PORT[/PROTO].
func parsePort(s string) (string, uint16, error) {
	num, proto, ok := strings.Cut(s, "/")
	if !ok {
		proto = "TCP"
	}
	n, err := strconv.ParseUint(num, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("--port %q: want PORT[/PROTO], e.g. 8080/TCP", s)
	}
	switch p := strings.ToUpper(proto); p {
	case "TCP", "UDP", "SCTP":
		if n == 0 {
			return "", 0, fmt.Errorf("--port %q: port 0", s)
		}
		return p, uint16(n), nil
	case "ICMPV4", "ICMPV6":
		return "ICMPv" + p[5:], uint16(n), nil
	}
	return "", 0, fmt.Errorf("--port %q: protocol %q: want TCP, UDP, SCTP, ICMPv4 or ICMPv6", s, proto)
}

func runTrace(ctx context.Context, o app.IO, p *traceParams, args []string) error {
	switch {
	case len(args) == 0:
		return usageErr("no policies: give policy files, directories or - (usage: ppc trace --from SRC --to DST --port PORT POLICY_PATH...)")
	case p.flow != "" && (p.from != "" || p.to != "" || p.port != "" || len(p.flows) > 0):
		return usageErr("--flow traces a recorded flow: give no --from, --to, --port or --flows")
	case p.flow == "" && (p.from == "" || p.to == "" || p.port == ""):
		return usageErr("give --from, --to and --port, or --flow FILE:LINE (usage: ppc trace --from SRC --to DST --port PORT POLICY_PATH...)")
	}
	if err := tracereport.Formats.Check(p.format); err != nil {
		return usageErr("%v", err)
	}
	settings, err := p.agent.settings()
	if err != nil {
		return usageErr("%v", err)
	}
	t := &app.Trace{Policies: app.Policies{Paths: args, Namespace: p.policyNamespace, Agent: settings, InferCluster: !p.agent.clusterSet()},
		From: p.from, To: p.to, Flows: p.flows, Format: p.format}
	if p.flow != "" {
		i := strings.LastIndexByte(p.flow, ':')
		line, err := strconv.Atoi(p.flow[i+1:])
		if i <= 0 || err != nil || line < 1 {
			return usageErr("--flow %q: want FILE:LINE", p.flow)
		}
		t.FlowFile, t.FlowLine = p.flow[:i], line
	} else if t.Proto, t.Port, err = parsePort(p.port); err != nil {
		return usageErr("%v", err)
	}
	return t.Run(ctx, o)
}
