package ppc.identity_test

import data.ppc.fixture_test as fx
import data.ppc.identity

test_selector_uses_preferred_key if {
	identity.selector["wl:shop/web"] == {"app": "web"} with input as fx.ir
	identity.selector["wl:kube-system/coredns"] == {"k8s-app": "kube-dns"} with input as fx.ir
}

test_selector_without_preferred_key_drops_volatile_labels if {
	n := {"id": "w", "kind": "workload", "namespace": "a", "labels": ["k8s:tier=db", "k8s:pod-template-hash=1", "k8s:io.kubernetes.pod.namespace=a"]}
	identity.selector.w == {"tier": "db"} with input as {"nodes": {"w": n}, "edges": {}}
}

test_unlabelled_workload_unselectable if {
	identity.unselectable["wl:shop/masked"] with input as fx.ir
	not identity.selector["wl:shop/masked"] with input as fx.ir
}

test_extra_labels_hook if {
	sel := identity.selector["wl:shop/web"] with input as fx.ir
		with data.ppc.ext.t.extra_labels as {{"workload": "wl:shop/web", "key": "team", "value": "a"}}
	sel == {"app": "web", "team": "a"}
}

test_one_group_per_selector if {
	gs := identity.groups with input as fx.ir
	count(gs) == 3
	{g.base | some g in gs} == {"web", "api", "kube-dns"}
}

# Web and web sanitize to one name: both get a hash suffix, deterministically.
test_names_that_collide_after_sanitizing if {
	a := {"id": "a", "kind": "workload", "namespace": "x", "labels": ["k8s:app=Web"]}
	b := {"id": "b", "kind": "workload", "namespace": "x", "labels": ["k8s:app=web"]}
	names := {n | some n in identity.name} with input as {"nodes": {"a": a, "b": b}, "edges": {}}
	count(names) == 2
	every n in names {
		regex.match(`^web-[0-9a-f]{8}$`, n)
	}
}

# An empty label value falls back to the controller's name.
test_display_name_of_empty_label if {
	n := {"id": "w", "kind": "workload", "namespace": "a", "pods": ["db"], "labels": ["k8s:app="]}
	identity.display_name("w") == "db" with input as {"nodes": {"w": n}, "edges": {}}
}

test_sanitize if {
	identity.sanitize("My_App.v2!") == "my-app.v2"
}

test_multi_cluster if {
	a := {"id": "a", "kind": "workload", "namespace": "x", "labels": ["k8s:app=a", "k8s:io.cilium.k8s.policy.cluster=east"]}
	b := {"id": "b", "kind": "workload", "namespace": "x", "labels": ["k8s:app=a", "k8s:io.cilium.k8s.policy.cluster=west"]}
	identity.multi_cluster with input as {"nodes": {"a": a, "b": b}, "edges": {}}
	count(identity.groups) == 2 with input as {"nodes": {"a": a, "b": b}, "edges": {}}
}
