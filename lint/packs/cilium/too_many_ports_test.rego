package ppc.lint.cilium.too_many_ports_test

import data.ppc.lint.cilium.too_many_ports

ports(n) := {"spec": {"egress": [{"toPorts": [{"ports": [{"port": format_int(p, 10)} | some p in numbers.range(1, n)]}]}]}}

test_41_ports_denied if {
	ds := too_many_ports.deny with input as ports(41)
	ds == {{"msg": "41 ports in one list: Cilium allows at most 40", "path": ["spec", "egress", 0, "toPorts", 0, "ports"]}}
}

test_40_ports_pass if {
	count(too_many_ports.deny) == 0 with input as ports(40)
}
