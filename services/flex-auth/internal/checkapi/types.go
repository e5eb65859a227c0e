// Package checkapi holds the wire types of the HTTP API: the /v1/check
// request, its strict decoder and the decision envelope, and the AuthZEN
// requests and answers. It converts requests into pkg/policy's types;
// the server builds the answers from the engine's decisions.
package checkapi

import (
	"crypto/rand"
	"encoding/hex"
	"sync"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/stellaops/authgate/pkg/policy"
)

// MaxBodyBytes bounds a check request body.
const MaxBodyBytes = 64 << 10

// Request is the body of POST /v1/check. Unknown fields are rejected.
type Request struct {
	// Actor is the registry name of the actor asking (required).
	Actor string `json:"actor" jsonschema:"minLength=1,description=Registry name of the actor."`
	// Subject is the identity presented for the actor; defaults to Actor.
	// The IAM form is iam:<actor>.
	Subject string `json:"subject,omitempty" jsonschema:"description=Identity presented for the actor; defaults to the actor name."`
	// Action defaults to ssh.sign.
	Action string `json:"action,omitempty" jsonschema:"description=Action requested; defaults to ssh.sign."`
	// Principal defaults to the actor's principal in the registry.
	Principal string `json:"principal,omitempty" jsonschema:"description=SSH principal requested; defaults to the actor's principal."`
	// TTLHours defaults to the actor's default (else maximum) TTL.
	TTLHours *int64 `json:"ttl_hours,omitempty" jsonschema:"description=Certificate lifetime in hours; defaults to the actor's default TTL."`
	// Resource names what the action is on, for packages that decide
	// about other kinds of resource.
	Resource string `json:"resource,omitempty" jsonschema:"description=Resource the action is on (optional)."`
	// Context holds extra scalar attributes (string, number, bool, null)
	// visible to policy conditions as request.context.
	Context map[string]any `json:"context,omitempty" jsonschema:"description=Extra scalar attributes visible to policy conditions."`
}

// PolicyRef identifies the policy package that decided.
type PolicyRef struct {
	Package string `json:"package"`
	Version string `json:"version"`
	Digest  string `json:"digest"`
}

// RegistryRef identifies the registry snapshot that was consulted.
type RegistryRef struct {
	Digest string `json:"digest"`
}

// Decision is the decision envelope answered by POST /v1/check.
type Decision struct {
	DecisionID string      `json:"decision_id" jsonschema:"pattern=^decision:[0-9a-f]{16}$"`
	Effect     string      `json:"effect" jsonschema:"enum=allow,enum=deny"`
	Reason     string      `json:"reason" jsonschema:"description=snake_case reason code owned by the policy package."`
	Backend    string      `json:"backend"`
	Policy     PolicyRef   `json:"policy"`
	Registry   RegistryRef `json:"registry"`
	Actor      string      `json:"actor"`
	Subject    string      `json:"subject"`
	Action     string      `json:"action"`
	Principal  string      `json:"principal"`
	// TTLHours is absent when the actor is unknown and the request named
	// no TTL.
	TTLHours *int64 `json:"ttl_hours,omitempty"`
}

// Policy returns the request as the policy engine takes it.
func (r *Request) Policy() policy.Request {
	pr := policy.Request{
		Actor: r.Actor, Subject: r.Subject, Action: r.Action, Principal: r.Principal,
		Resource: r.Resource, Context: r.Context,
	}
	if r.TTLHours != nil {
		pr.TTLHours, pr.HasTTL = *r.TTLHours, true
	}
	return pr
}

// NewDecisionID returns "decision:" and 16 lowercase hex digits read from
// the operating system's CSPRNG.
func NewDecisionID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error
	var out [9 + 16]byte
	copy(out[:], "decision:")
	hex.Encode(out[9:], b[:])
	return string(out[:])
}

// IDSource hands out decision ids like NewDecisionID, reading the CSPRNG
// 512 bytes at a time into pooled buffers instead of once per id. The
// zero value is ready to use.
type IDSource struct{ pool sync.Pool }

type idBuf struct {
	b [512]byte
	n int // bytes of b used
}

// New returns "decision:" and 16 lowercase hex digits.
func (s *IDSource) New() string {
	r, _ := s.pool.Get().(*idBuf)
	if r == nil {
		r = &idBuf{n: len(idBuf{}.b)}
	}
	if r.n+8 > len(r.b) {
		_, _ = rand.Read(r.b[:]) // crypto/rand.Read never returns an error
		r.n = 0
	}
	var out [9 + 16]byte
	copy(out[:], "decision:")
	hex.Encode(out[9:], r.b[r.n:r.n+8])
	r.n += 8
	s.pool.Put(r)
	return string(out[:])
}

// EncodeOptions marshal an answer as encoding/json does: <, >, & and
// U+2028, U+2029 escaped in strings, so that answers stay byte for byte
// what they have always been.
// Map members are sorted by name and a nil map is null, as there.
var EncodeOptions = json.JoinOptions(jsontext.EscapeForHTML(true), jsontext.EscapeForJS(true), jsontext.AllowInvalidUTF8(true),
	json.Deterministic(true), json.FormatNilMapAsNull(true))
