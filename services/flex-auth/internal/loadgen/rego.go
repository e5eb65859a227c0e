package loadgen

import _ "embed"

// regoPolicy is the ops-warden package written in Rego, for the OPA
// comparison.
//
//go:embed policy.rego
var regoPolicy string
