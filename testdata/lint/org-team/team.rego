# METADATA
# title: every policy names its owning team
# description: >-
#   Policies are reviewed and paged by team; the label team says which one.
# custom:
#   id: ORG001
#   severity: deny
package ppc.lint.org.team

deny contains {"msg": "metadata.labels.team is missing: say which team owns this policy", "path": ["metadata", "labels"]} if {
	not input.metadata.labels.team
}
