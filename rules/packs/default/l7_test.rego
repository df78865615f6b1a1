package ppc.l7_test

import data.ppc.fixture_test as fx
import data.ppc.synth

# ---- templating: one request's path, against itself ---------------------------

pattern(method, path) := synth.path_pattern({"method": method, "path": path}, [{"method": method, "path": path}])

test_templates if {
	pattern("GET", "/api/v1/products/42") == `^/api/v1/products/[0-9]+(\?.*)?$`
	pattern("GET", "/orders/3fa85f64-5717-4562-b3fc-2c963f66afa6") == `^/orders/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(\?.*)?$`
	pattern("GET", "/reports/2026-12-01/summary") == `^/reports/[0-9]{4}-[0-9]{2}-[0-9]{2}/summary(\?.*)?$`
	pattern("GET", "/blobs/sha256/9f86d081884c7d659a2feaa0c55ad015") == `^/blobs/sha256/[0-9a-fA-F]+(\?.*)?$`
	pattern("GET", "/") == `^/(\?.*)?$`
}

# Adversarial paths: every RE2 metacharacter is quoted, dots of ".." too;
# percent-encoding stays literal.
test_metacharacters_escaped if {
	pattern("GET", "/a.b/(x|y)*/[z]+?{1}^$") == `^/a\.b/\(x\|y\)\*/\[z\]\+\?\{1\}\^\$(\?.*)?$`
	pattern("GET", "/static/../etc/passwd") == `^/static/\.\./etc/passwd(\?.*)?$`
	pattern("GET", "/files/a%2Fb%20c") == `^/files/a%2Fb%20c(\?.*)?$`
	pattern("GET", `/x\y`) == `^/x\\y(\?.*)?$`
}

# The patterns compile and match their own path (and only paths of that
# shape) as Envoy matches :path, query strings included.
test_patterns_match_their_paths if {
	every path in ["/api/v1/products/42", "/a.b/(x|y)*/[z]+?{1}^$", "/static/../etc/passwd", "/files/a%2Fb%20c"] {
		regex.match(pattern("GET", path), path)
		regex.match(pattern("GET", path), concat("", [path, "?page=2"]))
	}
	not regex.match(pattern("GET", "/api/v1/products/42"), "/api/v1/products/42/delete")
	not regex.match(pattern("GET", "/a.b"), "/axb")
}

test_grpc_literal if {
	pattern("POST", "/shop.v1.Cart/AddItem") == `^/shop\.v1\.Cart/AddItem$`

	# Not gRPC: a GET, or a path of another shape.
	pattern("GET", "/shop.v1.Cart/AddItem") == `^/shop\.v1\.Cart/AddItem(\?.*)?$`
}

# ---- folding ---------------------------------------------------------------------

users := [{"method": "GET", "path": sprintf("/users/%s/profile", [n])} | some n in ["ann", "bob", "cy", "dee", "eve", "fay", "gus", "hal", "ivy", "joe"]]

test_many_values_fold if {
	synth.path_pattern(users[0], users) == `^/users/[^/]+/profile(\?.*)?$`
}

test_few_values_stay_literal if {
	few := array.slice(users, 0, 9)
	synth.path_pattern(few[0], few) == `^/users/ann/profile(\?.*)?$`
}

# Values of another method or another shape do not count.
test_fold_counts_alike_paths_only if {
	mixed := array.concat(array.slice(users, 0, 5), [{"method": "POST", "path": sprintf("/users/%d/profile", [i])} | some i in numbers.range(1, 5)])
	synth.path_pattern(mixed[0], mixed) == `^/users/ann/profile(\?.*)?$`
}

grpc_calls := [{"method": "POST", "path": sprintf("/shop.v1.Cart/%s", [m])} | some m in ["Add", "Remove", "Get", "List", "Empty", "Merge", "Price", "Checkout"]]

test_grpc_service_folds if {
	synth.path_pattern(grpc_calls[0], grpc_calls) == `^/shop\.v1\.Cart/[^/]+$`
	synth.path_pattern(grpc_calls[0], array.slice(grpc_calls, 0, 7)) == `^/shop\.v1\.Cart/Add$`
}

# ---- policies ---------------------------------------------------------------------

http_ir := json.patch(fx.ir, [{"op": "add", "path": ["edges", fx.web_api, "l7"], "value": {"truncated": false, "dns": [], "http": [
	{"method": "GET", "path": "/api/items/1"},
	{"method": "GET", "path": "/api/items/2"},
	{"method": "POST", "path": "/api/orders"},
]}}])

observed := {"http": "observed", "fold_values": 10, "grpc_fold": 8, "max_rules_per_port": 20, "max_path": 512}

test_http_rules_at_the_server if {
	p := synth.policies["shop/api"] with input as http_ir with data.ppc.config.l7 as observed
	{"fromEndpoints": [{"matchLabels": {"app": "web"}}], "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}], "rules": {"http": [
		{"method": "GET", "path": `^/api/items/[0-9]+(\?.*)?$`},
		{"method": "POST", "path": `^/api/orders(\?.*)?$`},
	]}}]} in p.ingress

	# The L3/L4 rule for the same peer and port is gone (it would allow
	# every request), and the client's egress stays L3/L4.
	not {"fromEndpoints": [{"matchLabels": {"app": "web"}}], "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}]}]} in p.ingress
	w := synth.policies["shop/web"] with input as http_ir with data.ppc.config.l7 as observed
	{"toEndpoints": [{"matchLabels": {"app": "api"}}], "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}]}]} in w.egress
}

test_off_by_default if {
	p := synth.policies["shop/api"] with input as http_ir
	{"fromEndpoints": [{"matchLabels": {"app": "web"}}], "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}]}]} in p.ingress
}

test_too_many_rules_fall_back_to_methods if {
	p := synth.policies["shop/api"] with input as http_ir with data.ppc.config.l7 as json.patch(observed, [{"op": "replace", "path": "/max_rules_per_port", "value": 1}])
	{"fromEndpoints": [{"matchLabels": {"app": "web"}}], "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}], "rules": {"http": [{"method": "GET"}, {"method": "POST"}]}}]} in p.ingress
}

test_long_path_falls_back_to_methods if {
	long := json.patch(http_ir, [{"op": "add", "path": ["edges", fx.web_api, "l7", "http", "-"], "value": {"method": "GET", "path": concat("", ["/", concat("", [x | some _ in numbers.range(1, 600); x := "a"])])}}])
	p := synth.policies["shop/api"] with input as long with data.ppc.config.l7 as observed
	some r in p.ingress
	r.toPorts[0].rules.http == [{"method": "GET"}, {"method": "POST"}]
}

# Requests Hubble did not all report: the edge keeps its L3/L4 rule.
test_truncated_keeps_l4 if {
	t := json.patch(http_ir, [{"op": "replace", "path": ["edges", fx.web_api, "l7", "truncated"], "value": true}])
	p := synth.policies["shop/api"] with input as t with data.ppc.config.l7 as observed
	{"fromEndpoints": [{"matchLabels": {"app": "web"}}], "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}]}]} in p.ingress
}

# ---- DNS names ---------------------------------------------------------------------

web_dns := sprintf("%s -> %s %s/%d", ["wl:shop/web", "wl:kube-system/coredns", "UDP", 53])

dns_ir(names) := json.patch(fx.ir, [{"op": "add", "path": ["edges", web_dns, "l7"], "value": {"truncated": false, "http": [], "dns": names}}])

dns_rules_of(names) := [r |
	p := synth.policies["shop/web"] with input as dns_ir(names) with data.ppc.config.dns.names as "observed"
	some r in p.egress
	r.toPorts[0].rules.dns
][0].toPorts[0].rules.dns

test_observed_names_become_match_names if {
	# api.github.com is a toFQDNs peer of web: it is looked up too.
	dns_rules_of(["shop-db.internal.example", "api.stripe.com.shop.svc.cluster.local"]) == [
		{"matchName": "api.github.com"},
		{"matchName": "shop-db.internal.example"},
		{"matchPattern": "**.cluster.local"},
	]
}

test_many_names_under_a_parent_fold if {
	names := [sprintf("s%d.cdn.example", [i]) | some i in numbers.range(1, 5)]
	{"matchPattern": "*.cdn.example"} in dns_rules_of(names)
	not {"matchName": "s1.cdn.example"} in dns_rules_of(names)
}

test_any_by_default if {
	p := synth.policies["shop/web"] with input as dns_ir(["a.example"])
	synth.dns_rule in p.egress
}

# A second client of the same port whose connections carried no HTTP
# request (a raw TCP client): no HTTP rule on that port at all, a warning.
test_non_http_traffic_on_the_port_keeps_l4 if {
	raw := {"id": "wl:shop/masked -> wl:shop/api TCP/8080", "src": "wl:shop/masked", "dst": "wl:shop/api", "protocol": "TCP", "port": 8080, "flows": 1, "verdicts": {"FORWARDED": 1}, "direction": {"is_reply": 1}}
	other := fx.complete(json.patch(http_ir, [
		{"op": "add", "path": ["nodes", "wl:shop/db"], "value": fx.wl("shop", "db")},
		{"op": "add", "path": ["edges", "wl:shop/db -> wl:shop/api TCP/8080"], "value": object.union(raw, {"id": "wl:shop/db -> wl:shop/api TCP/8080", "src": "wl:shop/db"})},
	]))
	p := synth.policies["shop/api"] with input as other with data.ppc.config.l7 as observed
	every r in p.ingress {
		not r.toPorts[0].rules
	}
	{"fromEndpoints": [{"matchLabels": {"app": "db"}}, {"matchLabels": {"app": "web"}}], "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}]}]} in p.ingress
	some w in synth.warnings with input as other with data.ppc.config.l7 as observed
	contains(w.msg, "no HTTP rule written on shop/api TCP/8080")
}

# ---- toFQDNs from observed names -----------------------------------------------

fqdn_ir(names) := fx.complete(json.patch(fx.ir, array.concat(
	[{"op": "add", "path": ["nodes", sprintf("fqdn:%s", [n])], "value": {"id": sprintf("fqdn:%s", [n]), "kind": "fqdn", "fqdn": n}} | some n in names],
	[{"op": "add", "path": ["edges", sprintf("wl:shop/web -> fqdn:%s TCP/443", [n])], "value": {"id": sprintf("wl:shop/web -> fqdn:%s TCP/443", [n]), "src": "wl:shop/web", "dst": sprintf("fqdn:%s", [n]), "protocol": "TCP", "port": 443, "flows": 1, "verdicts": {"FORWARDED": 1}, "direction": {"tcp_flags": 1}}} | some n in names],
)))

fqdn_rule(names, mode) := [r |
	p := synth.policies["shop/web"] with input as fqdn_ir(names) with data.ppc.config.dns.names as mode
	some r in p.egress
	r.toFQDNs
][0]

test_to_fqdns_fold_under_a_parent if {
	names := [sprintf("s%d.cdn.example", [i]) | some i in numbers.range(1, 5)]
	fqdn_rule(names, "observed").toFQDNs == [{"matchName": "api.github.com"}, {"matchPattern": "*.cdn.example"}]
	{"matchPattern": "*.cdn.example"} in dns_rules_of(names) with input as fqdn_ir(names)
}

test_to_fqdns_few_names_stay_names if {
	names := ["s1.cdn.example", "s2.cdn.example"]
	fqdn_rule(names, "observed").toFQDNs == [{"matchName": "api.github.com"}, {"matchName": "s1.cdn.example"}, {"matchName": "s2.cdn.example"}]
}

test_to_fqdns_names_by_default if {
	names := [sprintf("s%d.cdn.example", [i]) | some i in numbers.range(1, 5)]
	count(fqdn_rule(names, "any").toFQDNs) == 6
}
