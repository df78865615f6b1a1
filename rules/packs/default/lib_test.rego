package ppc.lib_test

import data.ppc.lib

test_setting_default if {
	lib.setting("no_such_key", 7) == 7
	lib.setting("max_ports_per_rule", 0) == 40
}

test_chunk if {
	lib.chunk([1, 2, 3], 2) == [[1, 2], [3]]
	lib.chunk([], 2) == []
}

test_groups if {
	lib.groups([["b", 2], ["a", 1], ["b", 1], ["b", 1]]) == [["a", [1]], ["b", [1, 2]]]
}

test_port_entry if {
	lib.port_entry([8080, "TCP"]) == {"port": "8080", "protocol": "TCP"}
}
