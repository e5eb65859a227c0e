// Package decisionlog writes one JSON line per policy decision (the
// engine's decision record, engine.Decision), durably, before the
// decision is answered. Concurrent decisions share one write and one
// fsync (group commit): the Append that finds no group in progress
// commits every line queued while the previous group was being synced.
//
// For audit: when a batch write fails partway, the complete lines before
// the failure stay in the file although every decision of the batch was
// answered as failed (503 deny). A line therefore means "decided, and
// possibly answered"; the absence of a line means "never answered allow".
package decisionlog

import (
	"strconv"
	"time"

	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
	"github.com/stellaops/authgate/services/flex-auth/internal/jsonenc"
)

// appendLine appends the line of d, newline included: the one place
// that writes a line, where a per-line member is to be added.
func appendLine(dst []byte, d *engine.Decision) []byte {
	dst = append(dst, '{')
	dst = append(jsonenc.Field(dst, "time"), '"')
	dst = d.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"')
	dst = jsonenc.StringField(dst, "decision_id", d.ID)
	if d.Endpoint != "" {
		dst = jsonenc.StringField(dst, "endpoint", d.Endpoint)
	}
	dst = jsonenc.StringField(dst, "actor", d.Actor)
	dst = jsonenc.StringField(dst, "subject", d.Subject)
	dst = jsonenc.StringField(dst, "action", d.Action)
	dst = jsonenc.StringField(dst, "principal", d.Principal)
	if d.Resource != "" {
		dst = jsonenc.StringField(dst, "resource", d.Resource)
	}
	if d.TTLHours != nil {
		dst = strconv.AppendInt(jsonenc.Field(dst, "ttl_hours"), *d.TTLHours, 10)
	}
	dst = jsonenc.StringField(dst, "effect", string(d.Effect))
	dst = jsonenc.StringField(dst, "reason", d.Reason)
	dst = jsonenc.StringField(dst, "backend", d.Backend)
	dst = jsonenc.StringField(dst, "policy_package", d.PolicyPackage)
	dst = jsonenc.StringField(dst, "policy_digest", d.PolicyDigest)
	dst = jsonenc.StringField(dst, "registry_digest", d.RegistryDigest)
	if d.DataDigest != "" {
		dst = jsonenc.StringField(dst, "data_digest", d.DataDigest)
	}
	if d.Results != nil {
		dst = append(jsonenc.Field(dst, "results"), '[')
		for i, r := range d.Results {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonenc.String(dst, r)
		}
		dst = append(dst, ']')
	}
	dst = jsonenc.IntField(dst, "latency_us", d.LatencyUS)
	return append(dst, '}', '\n')
}
