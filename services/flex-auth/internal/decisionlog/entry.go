// Package decisionlog writes one JSON line per policy decision, durably,
// before the decision is answered. Concurrent decisions share one write
// and one fsync (group commit): the Append that finds no group in progress
// commits every entry queued while the previous group was being synced.
//
// For audit: when a batch write fails partway, the complete lines before
// the failure stay in the file although every decision of the batch was
// answered as failed (503 deny). A line therefore means "decided, and
// possibly answered"; the absence of a line means "never answered allow".
package decisionlog

import (
	"strconv"
	"time"

	"github.com/stellaops/authgate/services/flex-auth/internal/jsonenc"
)

// Entry is one decision as recorded. It carries identifiers and outcomes
// only: never request context values, keys or tokens.
type Entry struct {
	Time           time.Time
	DecisionID     string
	Endpoint       string
	Actor          string
	Subject        string
	Action         string
	Principal      string
	Resource       string
	TTLHours       *int64
	Effect         string
	Reason         string
	Backend        string
	PolicyPackage  string
	PolicyDigest   string
	RegistryDigest string
	// DataDigest names the entity data document, when one is loaded.
	DataDigest string
	// Results holds the ids a search answered (search entries only).
	Results []string
	// SearchResults is set on search entries, whose Results may be empty.
	Search  bool
	Latency time.Duration
}

// Line is the JSON shape of an entry, for readers of the log.
type Line struct {
	Time           time.Time `json:"time"`
	DecisionID     string    `json:"decision_id"`
	Endpoint       string    `json:"endpoint,omitempty"`
	Actor          string    `json:"actor"`
	Subject        string    `json:"subject"`
	Action         string    `json:"action"`
	Principal      string    `json:"principal"`
	Resource       string    `json:"resource,omitempty"`
	TTLHours       *int64    `json:"ttl_hours,omitempty"`
	Effect         string    `json:"effect"`
	Reason         string    `json:"reason"`
	Backend        string    `json:"backend"`
	PolicyPackage  string    `json:"policy_package"`
	PolicyDigest   string    `json:"policy_digest"`
	RegistryDigest string    `json:"registry_digest"`
	DataDigest     string    `json:"data_digest,omitempty"`
	Results        []string  `json:"results,omitempty"`
	LatencyUS      int64     `json:"latency_us"`
}

// AppendJSON appends e as one JSON line, newline included.
func (e *Entry) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	dst = append(jsonenc.Field(dst, "time"), '"')
	dst = e.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"')
	dst = jsonenc.StringField(dst, "decision_id", e.DecisionID)
	if e.Endpoint != "" {
		dst = jsonenc.StringField(dst, "endpoint", e.Endpoint)
	}
	dst = jsonenc.StringField(dst, "actor", e.Actor)
	dst = jsonenc.StringField(dst, "subject", e.Subject)
	dst = jsonenc.StringField(dst, "action", e.Action)
	dst = jsonenc.StringField(dst, "principal", e.Principal)
	if e.Resource != "" {
		dst = jsonenc.StringField(dst, "resource", e.Resource)
	}
	if e.TTLHours != nil {
		dst = strconv.AppendInt(jsonenc.Field(dst, "ttl_hours"), *e.TTLHours, 10)
	}
	dst = jsonenc.StringField(dst, "effect", e.Effect)
	dst = jsonenc.StringField(dst, "reason", e.Reason)
	dst = jsonenc.StringField(dst, "backend", e.Backend)
	dst = jsonenc.StringField(dst, "policy_package", e.PolicyPackage)
	dst = jsonenc.StringField(dst, "policy_digest", e.PolicyDigest)
	dst = jsonenc.StringField(dst, "registry_digest", e.RegistryDigest)
	if e.DataDigest != "" {
		dst = jsonenc.StringField(dst, "data_digest", e.DataDigest)
	}
	if e.Search {
		dst = append(jsonenc.Field(dst, "results"), '[')
		for i, r := range e.Results {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonenc.String(dst, r)
		}
		dst = append(dst, ']')
	}
	dst = jsonenc.IntField(dst, "latency_us", e.Latency.Microseconds())
	return append(dst, '}', '\n')
}
