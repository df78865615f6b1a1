package cli

import (
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/policypilot/ppc/compiler/hubble"
)

// hubbleFlags read flows live from a Hubble server, with the hubble CLI's
// flag names.
type hubbleFlags struct {
	server       string
	tls          hubble.TLS
	since, until string
	first, last  uint64
	filter       hubble.Filter
}

func (h *hubbleFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&h.server, "hubble-server", "", "also read flows live from the Hubble server (Relay) at `ADDR` over its gRPC API ($HUBBLE_SERVER when no input is given)")
	fs.BoolVar(&h.tls.Enabled, "tls", false, "Hubble: connect with TLS")
	fs.StringSliceVar(&h.tls.CAFiles, "tls-ca-cert-files", nil, "Hubble: trust the CA certificates in `FILES` (default: the system's)")
	fs.StringVar(&h.tls.ClientCert, "tls-client-cert-file", "", "Hubble: client certificate for mutual TLS (`FILE`)")
	fs.StringVar(&h.tls.ClientKey, "tls-client-key-file", "", "Hubble: client key for mutual TLS (`FILE`)")
	fs.StringVar(&h.tls.ServerName, "tls-server-name", "", "Hubble: the `NAME` the server certificate must carry")
	fs.BoolVar(&h.tls.Insecure, "tls-allow-insecure", false, "Hubble: do not verify the server's certificate")
	fs.StringVar(&h.since, "since", "", "Hubble: flows since `TIME` (RFC 3339, or a duration ago: 5m, 2h)")
	fs.StringVar(&h.until, "until", "", "Hubble: flows until `TIME` (RFC 3339, or a duration ago)")
	fs.Uint64Var(&h.first, "first", 0, "Hubble: the oldest `N` flows only")
	fs.Uint64Var(&h.last, "last", 0, "Hubble: the newest `N` flows only (default: every flow the server holds)")
	fs.StringSliceVar(&h.filter.Pods, "pod", nil, "Hubble: flows from or to the pods `NAMESPACE/POD` (a prefix; repeatable)")
	fs.StringSliceVar(&h.filter.Labels, "label", nil, "Hubble: flows from or to endpoints matching the label `SELECTOR` (repeatable)")
	fs.StringSliceVar(&h.filter.Ports, "port", nil, "Hubble: flows from or to `PORT` (repeatable)")
	fs.StringSliceVar(&h.filter.Verdicts, "verdict", nil, "Hubble: flows with `VERDICT` only (FORWARDED, DROPPED, AUDIT, …; repeatable)")
	fs.StringSliceVar(&h.filter.Protocols, "protocol", nil, "Hubble: flows of `PROTOCOL` only (tcp, udp, icmpv4, http, dns, …; repeatable)")
}

// defaultServer takes the server from $HUBBLE_SERVER, as the hubble CLI
// does, when the command was given no input at all (with files, the
// environment never adds a live source behind the user's back).
func (h *hubbleFlags) defaultServer(args []string) {
	if h.server == "" && len(args) == 0 {
		h.server = os.Getenv("HUBBLE_SERVER")
	}
}

// options returns the Hubble options, nil when no server is given.
// namespaces, when given, are asked of the server too (a flow with a pod
// in one of them), as ppc would keep only those.
func (h *hubbleFlags) options(namespaces []string, now time.Time) (*hubble.Options, error) {
	if h.server == "" {
		if h.since != "" || h.until != "" || h.first > 0 || h.last > 0 || h.tls.Enabled || len(h.filter.Pods)+len(h.filter.Labels)+len(h.filter.Ports)+len(h.filter.Verdicts)+len(h.filter.Protocols) > 0 {
			return nil, usageErr("--since, --until, --first, --last, --tls and the filters (--pod, --label, --port, --verdict, --protocol) need --hubble-server")
		}
		return nil, nil
	}
	if h.first > 0 && h.last > 0 {
		return nil, usageErr("--first and --last exclude each other")
	}
	if (h.tls.ClientCert == "") != (h.tls.ClientKey == "") {
		return nil, usageErr("--tls-client-cert-file and --tls-client-key-file go together")
	}
	if _, err := hubble.ParseVerdicts(h.filter.Verdicts); err != nil {
		return nil, usageErr("--verdict: %v", err)
	}
	o := &hubble.Options{Server: h.server, TLS: h.tls, First: h.first, Last: h.last, Filter: h.filter}
	var err error
	if o.Since, err = parseTime("since", h.since, now); err != nil {
		return nil, err
	}
	if o.Until, err = parseTime("until", h.until, now); err != nil {
		return nil, err
	}
	o.Namespaces = namespaces
	return o, nil
}

// parseTime reads an RFC 3339 time or a duration before now.
func parseTime(flag, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usageErr("--%s %q: want an RFC 3339 time (2026-12-01T10:00:00Z) or a duration ago (%s)", flag, s, strings.Join([]string{"30s", "5m", "2h"}, ", "))
}
