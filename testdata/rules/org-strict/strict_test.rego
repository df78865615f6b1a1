package ppc.ext.strict_test

import data.ppc.ext.strict

test_world_entity_denied if {
	pols := {"shop/api": {"selector": {"app": "api", "team": "a"}, "egress": [{"toEntities": ["world"]}], "ingress": []}}
	count(strict.deny) == 1 with data.ppc.synth.policies as pols
}

test_team_required if {
	pols := {"shop/api": {"selector": {"app": "api"}, "egress": [], "ingress": []}}
	count(strict.deny) == 1 with data.ppc.synth.policies as pols
}

test_clean_policy_passes if {
	pols := {"shop/api": {"selector": {"app": "api", "team": "a"}, "egress": [{"toFQDNs": [{"matchName": "x.example"}]}], "ingress": []}}
	count(strict.deny) == 0 with data.ppc.synth.policies as pols
}
