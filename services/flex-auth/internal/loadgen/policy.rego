# The ops-warden SSH signing package (configs/ops-warden/policy_package.md)
# in Rego, for the flex-auth load comparison. Same defaults, same rule
# order, same reason codes. data.registry maps actor name -> registry entry.
package opswarden

import rego.v1

actor := data.registry[input.actor]

subject := object.get(input, "subject", input.actor)

action := object.get(input, "action", "ssh.sign")

principal := object.get(input, "principal", actor.principal)

ttl_hours := input.ttl_hours if {
	"ttl_hours" in object.keys(input)
} else := object.get(actor, "default_ttl_hours", actor.max_ttl_hours)

signing_actions := {"ssh.sign"}

default decision := {"effect": "deny", "reason": "no_rule_matched"}

decision := {"effect": "deny", "reason": "unknown_actor_resource"} if {
	not data.registry[input.actor]
} else := {"effect": "deny", "reason": "action_not_supported"} if {
	not signing_actions[action]
} else := {"effect": "deny", "reason": "subject_not_bound"} if {
	not subject in actor.allowed_subjects
} else := {"effect": "deny", "reason": "principal_not_allowed"} if {
	principal != actor.principal
} else := {"effect": "deny", "reason": "ttl_out_of_bounds"} if {
	ttl_out_of_bounds
} else := {"effect": "allow", "reason": "signing_policy_matched"} if {
	subject in actor.allowed_subjects
	principal == actor.principal
	ttl_hours > 0
	ttl_hours <= actor.max_ttl_hours
}

ttl_out_of_bounds if ttl_hours <= 0

ttl_out_of_bounds if ttl_hours > actor.max_ttl_hours
