// Package plans holds the entitlement rules of the registry token service:
// it parses the scopes a Docker/OCI client asks for, keeps the catalogue of
// plans (plan name -> repository patterns and actions) and decides, per
// requested resource, which actions a plan grants.
//
// # Scopes
//
// [ParseScopes] follows the resource scope grammar of the distribution token
// specification:
//
//	scope         := resourcescope [ ' ' resourcescope ]*
//	resourcescope := resourcetype ":" resourcename ":" action [ ',' action ]*
//	resourcetype  := resourcetypevalue [ '(' resourcetypevalue ')' ]
//	resourcename  := [ hostname '/' ] component [ '/' component ]*
//
// The type ends at the first ':' and the actions start after the last ':', so
// a name may carry a "host:port/" prefix. Two resource types are understood:
// "repository" (actions pull, push, delete and *) and "registry" with the
// single resource "catalog" and the single action "*". The deprecated class
// ("repository(plugin):...") is accepted and dropped. Anything else is a
// [*ScopeError]; more than [MaxScopes] scopes is [ErrTooManyScopes].
//
// # Plans
//
// A plan is an ordered list of [Rule] values. In YAML:
//
//	plans:
//	  community:
//	    - {repository: "stella-ops/public/*"}            # actions default to [pull]
//	  enterprise:
//	    - {repository: "stella-ops/*/*", actions: [pull, push]}
//	    - {repository: "stella-ops/*/scratch", actions: ["*"]}  # pull, push, delete
//	    - {catalog: true}                                # registry:catalog:*
//
// "*" in a repository pattern matches exactly one path segment and never
// crosses '/'; there is no "**" and no partial wildcard ("foo*"). The catalog
// (GET /v2/_catalog, scope "registry:catalog:*") is granted only by an
// explicit rule {catalog: true}; no repository pattern, not even "*" or
// "*/*", grants it, because listing every repository of the registry is a
// different right from reading some of them.
//
// The actions a plan grants for a repository are the union of the actions of
// every rule whose pattern matches the name. Patterns are compiled into a
// segment trie, so a lookup costs O(segments of the name), not O(rules).
package plans
