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

# decides(ns): this evaluation decides the policies of namespace ns:
# every namespace's, unless ppc evaluates the packs per shard of
# namespaces (input.shard; rules/README.md, "Sharded evaluation"), when
# the shard's own only. What only a policy needs is computed for those.
decides(_) if not input.shard

decides(ns) if input.shard.namespaces[ns]

# chunk splits arr into consecutive slices of at most n elements.
chunk(arr, n) := [array.slice(arr, i * n, (i + 1) * n) |
	some i in numbers.range(0, ceil(count(arr) / n) - 1)
] if count(arr) > 0

chunk(arr, _) := [] if count(arr) == 0

# groups groups [key, item] pairs by key: [[key, [item, ...]], ...], keys
# sorted, each key's distinct items sorted. ppc.group_by is ppc's builtin for it (O(n log n)):
# grouping in Rego costs several expressions per element, and a
# comprehension per key that scans every pair is O(keys × pairs),
# quadratic for a service with many clients.
groups(pairs) := ppc.group_by(pairs)

# field_groups groups [key, object] pairs by key, collecting the objects'
# field: groups([[key, object[field]], ...]) without building those pairs
# (ppc.group_by_field).
field_groups(pairs, field) := ppc.group_by_field(pairs, field)

# set_groups groups [[group, member], item] pairs by group and by each
# member's set of items: [[[group, [item, ...]], [member, ...]], ...], the
# members of a group with exactly those items (ppc.group_by_set: groups
# of groups, without rebuilding every key in Rego between them).
set_groups(pairs) := ppc.group_by_set(pairs)

# pairs_by pairs each object x of xs with table[x[field]]: [[table[x[field]],
# x], ...], leaving out the objects whose value the table does not hold
# (ppc.pairs_by: [[t[x[field]], x] | some x in xs] in one builtin).
pairs_by(xs, field, table) := ppc.pairs_by(xs, field, table)

# l4_protocols are the protocols that take toPorts entries.
l4_protocols := {"TCP", "UDP", "SCTP"}

# icmp_family maps an IR ICMP protocol to Cilium's ICMP family.
icmp_family := {"ICMPv4": "IPv4", "ICMPv6": "IPv6"}

# port_entry renders a [port, protocol] tuple as a Cilium PortProtocol.
port_entry(t) := {"port": format_int(t[0], 10), "protocol": t[1]}

# namespace_key is the label Cilium stores a pod's namespace under.
namespace_key := "k8s:io.kubernetes.pod.namespace"

# cluster_key is the label Cilium stores an endpoint's cluster under.
cluster_key := "k8s:io.cilium.k8s.policy.cluster"
