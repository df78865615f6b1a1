// Package agent owns the Cilium agent settings ppc emulates. Cilium's
// policy validation (Sanitize) and policy engine read package-level globals
// (option.Config, the policy enforcement mode, the entity selectors); this
// package is the one place that sets them, once per process, to the
// agent's defaults or to what the user asked for.
package agent

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/cilium/cilium/pkg/labels"
	"github.com/cilium/cilium/pkg/labelsfilter"
	"github.com/cilium/cilium/pkg/option"
	"github.com/cilium/cilium/pkg/policy"
	"github.com/cilium/cilium/pkg/policy/api"
)

// Settings are the agent options that change how policies are validated or
// enforced. The zero value is not the default; use Defaults.
type Settings struct {
	// ClusterName is the cluster's name (--cluster-name); it is added to
	// every endpoint selector and selects the "cluster" entity.
	ClusterName string
	// EnableNodeSelectorLabels allows fromNodes/toNodes
	// (--enable-node-selector-labels, default false).
	EnableNodeSelectorLabels bool
	// EnableExtendedIPProtocols allows ports without a port number for
	// VRRP, IGMP, … (--enable-extended-ip-protocols, default false).
	EnableExtendedIPProtocols bool
	// EnableL7Proxy (--enable-l7-proxy, default true).
	EnableL7Proxy bool
	// EnableICMPRules (--enable-icmp-rules, default true).
	EnableICMPRules bool
	// EnableNonDefaultDenyPolicies (--enable-non-default-deny-policies,
	// default true).
	EnableNonDefaultDenyPolicies bool
	// PolicyAnyCluster: selectors without a cluster label select
	// endpoints of every cluster of a ClusterMesh
	// (--policy-default-local-cluster=false; the default, true, limits
	// them to the local cluster).
	PolicyAnyCluster bool
}

// Defaults are the Cilium v1.20 agent's defaults.
func Defaults() Settings {
	return Settings{
		ClusterName:                  "default",
		EnableL7Proxy:                true,
		EnableICMPRules:              true,
		EnableNonDefaultDenyPolicies: true,
	}
}

var (
	mu      sync.Mutex
	applied *Settings
)

// Apply sets Cilium's globals to s. Cilium keeps them per process: a
// second call may change only the cluster name (which re-targets the
// "cluster" entity; Parse takes the name as an argument), and only
// between, not during, validations and replays.
func Apply(s Settings) error {
	mu.Lock()
	defer mu.Unlock()
	if s.ClusterName == "" {
		return fmt.Errorf("cluster name must not be empty")
	}
	if applied != nil {
		a, b := *applied, s
		a.ClusterName, b.ClusterName = "", ""
		a.PolicyAnyCluster, b.PolicyAnyCluster = false, false
		if a != b {
			return fmt.Errorf("cilium agent settings already applied as %+v; cannot change them to %+v in one process", *applied, s)
		}
		if applied.ClusterName != s.ClusterName {
			option.Config.ClusterName = s.ClusterName
			api.InitEntities(s.ClusterName)
			applied.ClusterName = s.ClusterName
		}
		return nil
	}
	option.Config.EnableNodeSelectorLabels = s.EnableNodeSelectorLabels
	option.Config.EnableExtendedIPProtocols = s.EnableExtendedIPProtocols
	option.Config.EnableL7Proxy = s.EnableL7Proxy
	option.Config.EnableICMPRules = s.EnableICMPRules
	option.Config.EnableNonDefaultDenyPolicies = s.EnableNonDefaultDenyPolicies
	option.Config.UnsafeDaemonConfigOption.AllowLocalhost = option.AllowLocalhostAlways
	option.Config.ClusterName = s.ClusterName
	policy.SetPolicyEnabled(option.DefaultEnforcement)
	api.InitEntities(s.ClusterName)
	c := s
	c.PolicyAnyCluster = false // read by replay's Parse, not a process global
	applied = &c
	return nil
}

var filterOnce sync.Once

// NodeLabel reports whether the agent's default node-label filter keeps a
// node label, which node selectors (nodeSelector, fromNodes, toNodes) are
// matched against: pkg/node/manager filters node labels with
// labelsfilter.FilterNodeLabels, whose default (no --node-labels) keeps
// every label — kubernetes.io/hostname included.
func NodeLabel(key string) bool {
	filterOnce.Do(func() {
		_ = labelsfilter.ParseLabelPrefixCfg(slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil, "")
	})
	if s, rest, ok := strings.Cut(key, ":"); ok && !strings.Contains(s, "/") && !strings.Contains(s, ".") {
		key = rest // a source prefix ("k8s:")
	}
	lbl := labels.NewLabel(key, "x", labels.LabelSourceK8s)
	id, _ := labelsfilter.FilterNodeLabels(labels.Labels{lbl.Key: lbl})
	return len(id) > 0
}

// IdentityLabel reports whether the agent's default label filter keeps a
// pod label in security identities. key may carry a source prefix
// ("k8s:app"; "any:" is read as k8s); reserved, cidr, fqdn and cidrgroup
// labels always count.
func IdentityLabel(key string) bool {
	filterOnce.Do(func() {
		// With no extra prefixes and no file it parses only Cilium's built-in
		// defaults, which cannot fail.
		_ = labelsfilter.ParseLabelPrefixCfg(slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil, "")
	})
	src := labels.LabelSourceK8s
	if s, rest, ok := strings.Cut(key, ":"); ok && !strings.Contains(s, "/") && !strings.Contains(s, ".") {
		src, key = s, rest
		if src == labels.LabelSourceAny {
			src = labels.LabelSourceK8s
		}
	}
	switch src {
	case labels.LabelSourceReserved, labels.LabelSourceCIDR, "fqdn", "cidrgroup":
		return true
	}
	lbl := labels.NewLabel(key, "x", src)
	id, _ := labelsfilter.Filter(labels.Labels{lbl.Key: lbl})
	return len(id) > 0
}
