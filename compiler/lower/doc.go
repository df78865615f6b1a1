// Package lower turns Hubble flow records into the graph IR. It owns the
// flow semantics of policy learning: which records are connection attempts
// (FORWARDED, REDIRECTED, AUDIT; POLICY_DENIED drops on request), which are
// replies or trace duplicates, how each endpoint becomes a workload,
// reserved entity, CIDR or FQDN peer, and the namespace filters. Everything
// it skips is counted by reason in the graph's statistics.
package lower
