package loadgen

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// actor is a registry snapshot entry, as flex-auth reads it and as the Rego
// policy gets it in data.registry.
type actor struct {
	Name            string   `json:"name"`
	Type            string   `json:"type"`
	Principal       string   `json:"principal"`
	MaxTTLHours     int64    `json:"max_ttl_hours"`
	AllowedSubjects []string `json:"allowed_subjects"`
}

func newActor(name, typ, principal string, maxTTL int64) actor {
	return actor{Name: name, Type: typ, Principal: principal, MaxTTLHours: maxTTL, AllowedSubjects: []string{name, "iam:" + name}}
}

// fixtureActors are the four actors of the ops-warden production fixture.
func fixtureActors() []actor {
	return []actor{
		newActor("adm-example", "adm", "adm-full", 48),
		newActor("agt-codex-interhub-bootstrap", "agt", "agt-interhub-bootstrap", 2),
		newActor("agt-state-hub-bridge", "agt", "agt-task-bridge", 24),
		newActor("atm-backup-daily", "atm", "atm-backup-daily", 8),
	}
}

func syntheticActors(n int) []actor {
	types := []string{"adm", "agt", "atm"}
	out := make([]actor, n)
	for i := range out {
		t := types[i%3]
		out[i] = newActor(fmt.Sprintf("%s-synthetic-%04d", t, i), t, fmt.Sprintf("%s-principal-%04d", t, i), int64(1+i%48))
	}
	return out
}

func writeSnapshot(path string, actors []actor) error {
	b, err := json.MarshalIndent(map[string]any{
		"version": 1, "generated_at": "2026-06-23T00:00:00Z", "source": "loadgen", "actors": actors,
	}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// check is one request body of the mix with its expected outcome.
type check struct {
	Actor     string `json:"actor"`
	Subject   string `json:"subject,omitempty"`
	Principal string `json:"principal,omitempty"`
	TTLHours  *int64 `json:"ttl_hours,omitempty"`
	allow     bool
	reason    string
}

// mix returns the request mix: per actor an allow with the plain subject,
// an allow with the IAM subject, a TTL 999 deny, a deny for a subject of
// another actor and a deny for another principal; plus unknown actors.
// About 40% of the requests are allowed.
func mix(actors []actor) []check {
	ttl999 := int64(999)
	var out []check
	for i, a := range actors {
		other := actors[(i+1)%len(actors)]
		out = append(out,
			check{Actor: a.Name, allow: true, reason: "signing_policy_matched"},
			check{Actor: a.Name, Subject: "iam:" + a.Name, allow: true, reason: "signing_policy_matched"},
			check{Actor: a.Name, TTLHours: &ttl999, reason: "ttl_out_of_bounds"},
			check{Actor: a.Name, Subject: "iam:" + other.Name, reason: "subject_not_bound"},
			check{Actor: a.Name, Principal: other.Principal, reason: "principal_not_allowed"},
		)
		if i%5 == 0 {
			out = append(out, check{Actor: strings.Replace(a.Name, "-", "-unknown-", 1), reason: "unknown_actor_resource"})
		}
	}
	return out
}
