package ppc.lint.cilium.http_any_path_test

import data.ppc.lint.cilium.http_any_path

http(rules) := {"spec": {"ingress": [{"toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}], "rules": {"http": rules}}]}]}}

test_method_only_warned if {
	ws := http_any_path.warn with input as http([{"method": "GET"}])
	ws == {{"msg": "HTTP rule \"GET\" admits every path", "path": ["spec", "ingress", 0, "toPorts", 0, "rules", "http", 0]}}
}

test_match_all_pattern_warned if {
	count(http_any_path.warn) == 1 with input as http([{"method": "POST", "path": "/.*"}])
	count(http_any_path.warn) == 1 with input as http([{"path": ".*"}])
}

# Near misses: a path, even a templated one.
test_paths_pass if {
	count(http_any_path.warn) == 0 with input as http([{"method": "GET", "path": `^/api/items/[0-9]+(\?.*)?$`}, {"method": "GET", "path": "/health"}])
}
