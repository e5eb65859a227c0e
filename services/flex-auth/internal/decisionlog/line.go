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
	"slices"

	"github.com/stellaops/authgate/pkg/jsonenc"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
)

// lines writes decision log lines into one buffer.
type lines struct {
	buf []byte
}

// lineSize is about the size of a decision's line, to size the buffer
// of a batch once; maxPooledLines bounds the buffers kept for reuse (a
// batch of checkapi.MaxBatch decisions fits).
const (
	lineSize       = 512
	maxPooledLines = 1 << 20
)

// reset empties the buffer and makes room for about n lines.
func (w *lines) reset(n int) {
	w.buf = slices.Grow(w.buf[:0], n*lineSize)
}

// add appends the line of d, newline included: the one place a decision
// becomes a line (the chain, chain.go, then ends it with seq and prev).
func (w *lines) add(d *engine.Decision) {
	w.buf = appendLine(w.buf, d)
}

// appendLine appends the line of d (its time in UTC) and a newline: the
// members of engine.Decision in the order of its fields, as its json tags
// say, strings escaped as encoding/json does (<, >, & and U+2028, U+2029
// as \uXXXX) so that lines stay what they have always been. The tests
// check it against the reflective encoder.
func appendLine(b []byte, d *engine.Decision) []byte {
	b = append(b, `{"time":`...)
	b = jsonenc.Time(b, d.Time.UTC())
	b = jsonenc.StringMember(b, "decision_id", d.ID)
	if d.Endpoint != "" {
		b = jsonenc.StringMember(b, "endpoint", d.Endpoint)
	}
	b = jsonenc.StringMember(b, "actor", d.Actor)
	b = jsonenc.StringMember(b, "subject", d.Subject)
	b = jsonenc.StringMember(b, "action", d.Action)
	b = jsonenc.StringMember(b, "principal", d.Principal)
	if d.Resource != "" {
		b = jsonenc.StringMember(b, "resource", d.Resource)
	}
	if d.TTLHours != nil {
		b = jsonenc.Int(jsonenc.Member(b, "ttl_hours"), *d.TTLHours)
	}
	b = jsonenc.StringMember(b, "effect", string(d.Effect))
	b = jsonenc.StringMember(b, "reason", d.Reason)
	b = jsonenc.StringMember(b, "backend", d.Backend)
	b = jsonenc.StringMember(b, "policy_package", d.PolicyPackage)
	b = jsonenc.StringMember(b, "policy_digest", d.PolicyDigest)
	b = jsonenc.StringMember(b, "registry_digest", d.RegistryDigest)
	if d.DataDigest != "" {
		b = jsonenc.StringMember(b, "data_digest", d.DataDigest)
	}
	if d.Results != nil {
		b = append(jsonenc.Member(b, "results"), '[')
		for i, r := range d.Results {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonenc.String(b, r)
		}
		b = append(b, ']')
	}
	b = jsonenc.Int(jsonenc.Member(b, "latency_us"), d.LatencyUS)
	return append(b, '}', '\n')
}

// bytes returns the lines added since reset.
func (w *lines) bytes() []byte { return w.buf }
