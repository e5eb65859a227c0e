package server

import (
	"github.com/stellaops/authgate/pkg/jsonenc"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
)

// The answers of the decision endpoints, appended without reflection:
// byte for byte what json.Marshal with checkapi.EncodeOptions writes for
// envelope(d) and evaluationResponse(d) (the tests compare them).

// appendEnvelope appends the /v1/check answer of d.
func appendEnvelope(b []byte, d *engine.Decision) []byte {
	b = append(b, '{')
	b = jsonenc.StringMember(b, "decision_id", d.ID)
	b = jsonenc.StringMember(b, "effect", string(d.Effect))
	b = jsonenc.StringMember(b, "reason", d.Reason)
	b = jsonenc.StringMember(b, "backend", d.Backend)
	b = appendSources(b, d)
	b = jsonenc.StringMember(b, "actor", d.Actor)
	b = jsonenc.StringMember(b, "subject", d.Subject)
	b = jsonenc.StringMember(b, "action", d.Action)
	b = jsonenc.StringMember(b, "principal", d.Principal)
	if d.TTLHours != nil {
		b = jsonenc.Int(jsonenc.Member(b, "ttl_hours"), *d.TTLHours)
	}
	return append(b, '}')
}

// appendEvaluationResponse appends the AuthZEN answer of d.
func appendEvaluationResponse(b []byte, d *engine.Decision) []byte {
	b = append(b, `{"decision":`...)
	b = jsonenc.Bool(b, d.Allowed())
	b = append(b, `,"context":{`...)
	b = jsonenc.StringMember(b, "decision_id", d.ID)
	b = jsonenc.StringMember(b, "reason", d.Reason)
	b = append(b, `,"reason_admin":{"en":`...)
	b = jsonenc.String(b, d.Reason)
	b = append(b, '}')
	b = jsonenc.StringMember(b, "effect", string(d.Effect))
	b = jsonenc.StringMember(b, "backend", d.Backend)
	b = appendSources(b, d)
	if d.DataDigest != "" {
		b = append(b, `,"data":{`...)
		b = jsonenc.StringMember(b, "digest", d.DataDigest)
		b = append(b, '}')
	}
	return append(b, '}', '}')
}

// appendSources appends the policy and registry members of an answer.
func appendSources(b []byte, d *engine.Decision) []byte {
	b = append(b, `,"policy":{`...)
	b = jsonenc.StringMember(b, "package", d.PolicyPackage)
	b = jsonenc.StringMember(b, "version", d.PolicyVersion)
	b = jsonenc.StringMember(b, "digest", d.PolicyDigest)
	b = append(b, `},"registry":{`...)
	b = jsonenc.StringMember(b, "digest", d.RegistryDigest)
	return append(b, '}')
}
