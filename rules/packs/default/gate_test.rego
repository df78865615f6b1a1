package ppc.gate_test

import data.ppc.gate

test_gates_collect_every_pack if {
	gate.deny == {{"msg": "a"}, {"msg": "b"}} with data.ppc.ext.one.deny as {{"msg": "a"}}
		with data.ppc.ext.two.deny as {{"msg": "b"}}
	gate.warn == {{"msg": "w"}} with data.ppc.ext.one.warn as {{"msg": "w"}}
}

test_no_packs_no_gates if {
	count(gate.deny) == 0
	count(gate.warn) == 0
}
