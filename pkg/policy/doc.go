// Package policy loads and evaluates flex-auth policy packages.
//
// A policy package is a Markdown document that people read as the policy's
// documentation. YAML front matter names the package and declares its
// reason codes; fenced code blocks with the info string "rule" hold the
// rules; all other prose is ignored by the engine (but `policy validate
// --strict` insists that every rule is explained by prose before it).
//
//	---
//	name: ops-warden-ssh-signing
//	version: "1.0.0"
//	backend: flex-auth                 # reported in every decision
//	reasons:
//	  - {code: signing_policy_matched, description: ...}
//	  - {code: unknown_actor_resource, description: ...}
//	  - {code: no_rule_matched, description: ...}
//	default_reason: no_rule_matched    # deny reason when no rule matches
//	variables:                         # optional constants for conditions
//	  - {name: signing_actions, type: list(string), value: [ssh.sign]}
//	---
//
//	Unknown actors cannot sign anything.
//
//	```rule
//	id: unknown-actor
//	effect: deny
//	reason: unknown_actor_resource
//	when: actor == null
//	```
//
// Rules are evaluated in document order and the first whose condition is
// true decides; when none matches the decision is a deny with the default
// reason. Conditions are CEL expressions, type-checked when the package is
// loaded, over these variables:
//
//   - request: actor, subject, action, principal, resource (string),
//     ttl_hours (int), context (map(string, dyn)). has(request.ttl_hours)
//     tells whether the caller gave a TTL.
//   - actor: the registry entry of request.actor, with name, type,
//     principal (string), max_ttl_hours, default_ttl_hours (int) and
//     allowed_subjects (list(string)); or null when the actor is not in
//     the registry. Test it with `actor == null` (or has(actor.name))
//     before reading its fields: reading a field of a null actor is an
//     evaluation error, which Evaluate reports as a deny.
//   - every variable the front matter declares, with its declared type
//     (bool, int, double, string, list(string), list(int),
//     map(string, string)) and constant value.
//
// A package may instead decide the whole OpenID AuthZEN request: with
// `request: authzen` in the front matter its conditions see subject and
// resource (type, id, properties), action (name, properties), context
// (map(string, dyn)) and the entity data through subject_data(type, id)
// and resource_data(type, id) (the entity's properties, {} when unknown;
// see Options.Data), subject_known(type, id) and resource_known(type, id).
// Optional field selection is enabled: subject_data(t, i).?roles.orValue([]). A `decides` block (actions: exact names or prefix*,
// optional resource_types) says which requests the package decides when
// several packages are served together (see Decides).
//
// Every condition is subject to a CEL cost limit (DefaultCostLimit, or
// Options.CostLimit): its worst case is estimated at load, assuming
// request collections as large as a 64 KiB body allows and strings of at
// most 1 KiB, and a condition whose estimate exceeds the limit does not
// load (code cost_limit). An evaluation whose inputs exceed those
// assumptions runs with the limit enforced and is denied with reason
// cost_limit_exceeded when it runs over.
//
// Loading reports problems as Diagnostics naming the file, the line (the
// rule block's fence, or the condition's line) and a stable code: see the
// Code constants. Errors stop the package from loading; warnings are style
// problems.
//
// Callers fill request defaults with Request.ApplyDefaults before
// Evaluate, so that the HTTP service and the simulator agree.
package policy
