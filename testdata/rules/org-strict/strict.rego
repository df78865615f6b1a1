# An organisation gate: policies must never allow the world entity, and
# every selector must name the owning team.
package ppc.ext.strict

# deny: compile fails (exit 1) when a policy breaks a rule.
deny contains {"msg": sprintf("%s allows toEntities world; name the FQDN or CIDR instead", [key]), "policy": key} if {
	some key, p in data.ppc.synth.policies
	some r in p.egress
	"world" in r.toEntities
}

deny contains {"msg": sprintf("%s allows fromEntities world", [key]), "policy": key} if {
	some key, p in data.ppc.synth.policies
	some r in p.ingress
	"world" in r.fromEntities
}

deny contains {"msg": sprintf("%s selects workloads without a team label", [key]), "policy": key} if {
	some key, p in data.ppc.synth.policies
	not p.selector.team
}

# Every policy says who reviews it.
policy_labels contains {"key": "policypilot.io/reviewed-by", "value": "platform-team"}
