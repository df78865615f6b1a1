# Package ppc.identity decides how each workload is selected: the labels of
# its endpointSelector (and of the fromEndpoints/toEndpoints selectors that
# name it as a peer), and which workloads share one policy.
#
# Only identity-relevant, stable labels are used: a preferred name key
# (config identity_keys, first present wins) plus config identity_extra_keys
# and hook extra_labels; without a preferred key, every label except the
# volatile ones (config drop_label_keys / drop_label_prefixes).
package ppc.identity

import data.ppc.hooks
import data.ppc.lib

# k8s_labels are a workload's k8s-source labels without the "k8s:" prefix:
# ppc's input holds them parsed (n.k8s_labels, parsed as below); an input
# without them, such as a test's, is parsed here.
k8s_labels(n) := n.k8s_labels if {
	n.k8s_labels
} else := {k: v |
	some l in n.labels
	startswith(l, "k8s:")
	kv := substring(l, 4, -1)
	i := indexof(kv, "=")
	i > 0
	k := substring(kv, 0, i)
	v := substring(kv, i + 1, -1)
}

# The settings read for every workload, each read once: a rule's value is
# computed once per evaluation, and reading it costs less than a call of
# lib.setting.
identity_keys := lib.setting("identity_keys", [])

identity_extra_keys := lib.setting("identity_extra_keys", [])

drop_label_keys := lib.setting("drop_label_keys", [])

drop_label_prefixes := lib.setting("drop_label_prefixes", [])

dropped(k) if k in drop_label_keys

dropped(k) if {
	some p in drop_label_prefixes
	startswith(k, p)
}

stable(labels) := {k: v | some k, v in labels; not dropped(k)}

preferred_key(labels) := ks[0] if {
	ks := [k | some k in identity_keys; labels[k]]
	count(ks) > 0
}

base(labels) := {k: labels[k]} if {
	k := preferred_key(labels)
} else := stable(labels)

extra(id, labels) := object.union(
	{k: labels[k] | some k in identity_extra_keys; labels[k]},
	object.get(hook_labels, id, {}),
)

# hook_labels[id] are the labels the hooks add to workload id's selector
# (grouped once: each workload's are a lookup).
hook_labels := {id: {x.key: x.value | some x in xs} | some [id, xs] in lib.groups([[x.workload, x] | some x in hooks.extra_labels])}

# workload_labels[id] are k8s_labels of workload id, parsed once.
workload_labels := {id: k8s_labels(n) | some id, n in input.nodes; n.kind == "workload"}

# selector[id] is the matchLabels of workload id. An empty selector would
# select every pod of the namespace, so a workload without usable labels
# has none (see unselectable). A shard of the evaluation reads it from
# input.shard.context, where it was computed once for every workload.
selector := input.shard.context.selector if {
	input.shard
} else := {id: sel |
	some id, labels in workload_labels
	sel := object.union(base(labels), extra(id, labels))
	count(sel) > 0
}

# unselectable[id] says why a workload cannot be selected.
unselectable := {id: why | some id, why in input.shard.context.unselectable; input.nodes[id]} if {
	input.shard # read from the context, computed once for every workload
} else := {id: "no identity labels in the flows (field-masked export?)" |
	some id, n in input.nodes
	n.kind == "workload"
	not selector[id]
}

# display_name is the readable base of a workload's policy name: its
# preferred label's value, else the controller its pods belong to, else the
# IR's name for it.
# (A value that sanitizes to nothing, such as an empty label value, which
# Kubernetes allows, is passed over.)
display_name(id) := labelled_name(id, k8s_labels(input.nodes[id]))

# labelled_name(id, labels) is display_name for workload id whose parsed
# labels are labels.
labelled_name(id, labels) := v if {
	v := labels[preferred_key(labels)]
	sanitize(v) != ""
} else := v if {
	v := input.nodes[id].pods[0]
	sanitize(v) != ""
} else := v if {
	v := input.nodes[id].name
	sanitize(v) != ""
} else := "workload"

# display_names[id] is every workload's display_name, from the labels
# parsed once (workload_labels). A shard of the evaluation reads it from
# input.shard.context, where it was computed once for every workload.
display_names := input.shard.context.display_names if {
	input.shard
} else := {id: labelled_name(id, labels) | some id, labels in workload_labels}

# cluster_of(n) is the cluster a workload's identity labels name ("" if none).
cluster_of(n) := c if {
	some l in n.labels
	startswith(l, "k8s:io.cilium.k8s.policy.cluster=")
	c := substring(l, count("k8s:io.cilium.k8s.policy.cluster="), -1)
} else := ""

# clusters are the clusters the workloads come from; multi_cluster: more
# than one (ClusterMesh), so policies are written per cluster and peers are
# selected with their cluster label. A shard of the evaluation sees only
# some workloads, and so does each part of the shard context: they are
# told (input.shard.context, input.chunk.globals; see
# ppc.synth.shard_globals). (The labels are scanned for the cluster's
# alone, as cluster_of does: this runs over every workload before the
# shards, one core only.)
clusters := {c |
	some n in input.nodes
	n.kind == "workload"
	some l in n.labels
	startswith(l, "k8s:io.cilium.k8s.policy.cluster=")
	c := substring(l, count("k8s:io.cilium.k8s.policy.cluster="), -1)
	c != ""
}

multi_cluster if {
	not input.shard
	not input.chunk
	count(clusters) > 1
}

multi_cluster if input.shard.context.multi_cluster == true

multi_cluster if input.chunk.globals.multi_cluster == true

# group_key identifies the policy a workload belongs to: workloads of one
# cluster and namespace with the same selector share a policy. The key is
# what they share, [cluster, namespace, selector], as OPA's value (a
# string of it, marshalled per workload and unmarshalled per group, cost
# more).
group_key(id) := [cluster_of(input.nodes[id]), input.nodes[id].namespace, selector[id]]

# groups[key] is one policy subject: cluster, namespace, base name (the
# smallest of its members' display names) and selector.
groups := {key: {"cluster": c, "namespace": ns, "base": bases[0], "selector": sel} |
	names := display_names
	some key, ids in members
	[c, ns, sel] := key # the key is what they share (group_key)
	bases := sort({names[id] | some id in ids})
}

# member[id] is the group of workload id, for the workloads of the
# namespaces this evaluation decides (lib.decides: all, unless in a shard).
# (selector, unselectable, member and groups are complete objects: each is
# evaluated once, and every lookup after that is O(1).)
member := {id: group_key(id) |
	sels := selector
	some id in decided_workloads
	sels[id]
}

# decided_workloads are the workloads of the namespaces lib.decides holds
# for: a shard's are listed in its input (input.shard.workloads), so that
# no shard passes over the nodes of its peers for them.
decided_workloads := input.shard.workloads if {
	input.shard.workloads
} else := [id | some id, n in input.nodes; n.kind == "workload"; lib.decides(n.namespace)]

# members[key] lists the workloads a policy selects (sorted). Grouped in
# one pass: a comprehension per group that scans every workload would be
# O(groups × workloads).
members := {key: ids | some [key, ids] in lib.groups([[k, id] | some id, k in member])}

# plain_names[key] is a group's policy name before disambiguation.
plain_names := {key: sanitize(concat("", [name_prefix, g.base])) | some key, g in groups}

name_prefix := lib.setting("policy_name_prefix", "")

# name[key] is the policy name of a group: prefix plus base name, with a
# short hash of the selector when several groups would share the name:
# groups are gathered by [cluster, namespace, name] (names compared after
# sanitizing: Web and web, a_b and a-b are one name to Kubernetes). (A
# complete object: each policy's lookup is O(1).)
name := {key: group_name(n, count(keys), groups[key]) |
	some [[_, _, n], keys] in lib.groups([[[g.cluster, g.namespace, plain[key]], key] | plain := plain_names; some key, g in groups])
	some key in keys
}

# group_name(n, k, g) is the name of group g, whose plain name n k groups
# would get.
group_name(n, 1, _) := n

group_name(_, k, g) := sanitize(concat("", [name_prefix, g.base, "-", substring(crypto.md5(json.marshal(g.selector)), 0, 8)])) if k > 1

# sanitize turns a label value into a DNS-1123 subdomain.
sanitize(s) := out if {
	r := regex.replace(lower(s), `[^a-z0-9.-]+`, "-")
	t := trim(r, "-.")
	out := substring(t, 0, 200)
}
