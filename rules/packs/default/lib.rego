# Package ppc.lib holds the default pack's pure helpers and the config
# accessor. Settings come from data.ppc.config, merged by ppc in Go
# (built-in defaults < rule packs in --rules order < --set on the command
# line), so no pack ever needs to redefine a rule to change a setting.
package ppc.lib

# config is data.ppc.config, or {} when no data is loaded (object.get on a
# missing document is undefined, not its default).
config := c if {
	c := data.ppc.config
} else := {}

# setting returns config[key], or d when the key is absent.
setting(key, d) := v if {
	v := config[key]
} else := d

# chunk splits arr into consecutive slices of at most n elements.
chunk(arr, n) := [array.slice(arr, i * n, (i + 1) * n) |
	some i in numbers.range(0, ceil(count(arr) / n) - 1)
] if count(arr) > 0

chunk(arr, _) := [] if count(arr) == 0

# groups groups [key, item] pairs by key: [[key, [item, ...]], ...], keys
# and items sorted. It sorts once and cuts the runs of equal keys, so it
# costs O(n log n): a comprehension per key that scans every pair would be
# O(keys × pairs), quadratic for a service with many clients.
groups(pairs) := [[s[b][0], [x[1] | some x in array.slice(s, b, run_end(bs, k, count(s)))]] |
	s := sort(pairs)
	bs := [i | some i, _ in s; run_start(s, i)]
	some k, b in bs
]

run_start(_, 0)

run_start(s, i) if {
	i > 0
	s[i - 1][0] != s[i][0]
}

run_end(bs, k, n) := bs[k + 1] if k + 1 < count(bs)

run_end(bs, k, n) := n if k + 1 == count(bs)

# l4_protocols are the protocols that take toPorts entries.
l4_protocols := {"TCP", "UDP", "SCTP"}

# icmp_family maps an IR ICMP protocol to Cilium's ICMP family.
icmp_family := {"ICMPv4": "IPv4", "ICMPv6": "IPv6"}

# port_entry renders an IR [protocol, port] tuple as a Cilium PortProtocol.
port_entry(t) := {"port": format_int(t[1], 10), "protocol": t[0]}

# namespace_key is the label Cilium stores a pod's namespace under.
namespace_key := "k8s:io.kubernetes.pod.namespace"

# cluster_key is the label Cilium stores an endpoint's cluster under.
cluster_key := "k8s:io.cilium.k8s.policy.cluster"
