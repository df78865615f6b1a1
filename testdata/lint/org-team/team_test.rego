package ppc.lint.org.team_test

import data.ppc.lint.org.team

test_missing_team_denied if {
	count(team.deny) == 1 with input as {"metadata": {"name": "x"}}
}

test_team_present_passes if {
	count(team.deny) == 0 with input as {"metadata": {"name": "x", "labels": {"team": "payments"}}}
}
