package token

// Reason is why a token request was refused. The set is small and fixed:
// it is the "reason" label of registry_token_rejected_total and the
// "reason" field of the decision log.
type Reason string

// The rejection reasons. Add a reason here and in errorTable together.
const (
	ReasonMissingService    Reason = "missing_service"
	ReasonServiceNotAllowed Reason = "service_not_allowed"
	ReasonInvalidScope      Reason = "invalid_scope"
	ReasonTooManyScopes     Reason = "too_many_scopes"
	ReasonMissingToken      Reason = "missing_token"
	ReasonInvalidToken      Reason = "invalid_token"
	ReasonInvalidProof      Reason = "invalid_proof"
	ReasonProofReplayed     Reason = "proof_replayed"
	// The proof is dated before the replay cache's epoch plus
	// dpop.clockSkew (the cache restarted, Redis lost its data or failed
	// over) and carries no nonce issued since: it may have been used
	// before. Answered 401 use_dpop_nonce with a DPoP-Nonce header; the
	// client's retry with that nonce passes.
	ReasonProofBeforeEpoch  Reason = "proof_before_replay_epoch"
	ReasonNonceRequired     Reason = "nonce_required"
	ReasonSenderConstraint  Reason = "sender_constraint"
	ReasonInsufficientScope Reason = "insufficient_scope"
	ReasonUnknownPlan       Reason = "unknown_plan"
	ReasonLicenseRevoked    Reason = "license_revoked"
	ReasonNotEntitled       Reason = "not_entitled"
	// A DPoP-bound OpTok came as a password (Basic, or the OAuth2 form
	// without a DPoP header): no proof can ride there.
	ReasonDPoPTokenAsPassword Reason = "dpop_token_as_password" //nolint:gosec // a metric label, not a credential
	// POST /token: a grant_type other than refresh_token or password.
	ReasonUnsupportedGrant Reason = "unsupported_grant_type"
	// POST /token: wrong content type, oversized or malformed body,
	// repeated or conflicting fields.
	ReasonInvalidForm Reason = "invalid_form"
	// The Authority's keys are not loaded (never fetched, or dropped after
	// authority.jwksMaxStale without a successful refresh).
	ReasonAuthorityUnavailable Reason = "authority_unavailable"
	// The DPoP replay store (Redis) cannot record the proof.
	ReasonReplayStoreUnavailable Reason = "replay_store_unavailable"
	// The memory replay cache holds authority.replayCache.maxEntries
	// unexpired proofs: this replica takes more proofs per second than
	// maxEntries / (dpop.maxAge + dpop.clockSkew).
	ReasonReplayCacheFull Reason = "replay_cache_full"
	// flex-auth (policy section): every access the plan grants was denied
	// by policy, or flex-auth failed while policy.failClosed is true.
	ReasonPolicyDenied          Reason = "policy_denied"
	ReasonPolicyUnavailable     Reason = "policy_unavailable"
	ReasonPolicyTimeout         Reason = "policy_timeout"
	ReasonPolicyInvalidResponse Reason = "policy_invalid_response"
	// An error that is not a refusal (signing failed): the client gets a
	// generic 500; this is its metric label.
	ReasonInternal Reason = "internal_error"
	// The client went away before the answer: whatever failed afterwards
	// (a replay claim or policy call cut short) is not a dependency outage.
	ReasonClientClosed Reason = "client_closed"
)

// Reasons lists every reason, in a stable order (metrics pre-creation,
// documentation, tests).
func Reasons() []Reason {
	return []Reason{
		ReasonMissingService, ReasonServiceNotAllowed, ReasonInvalidScope, ReasonTooManyScopes,
		ReasonMissingToken, ReasonInvalidToken, ReasonInvalidProof, ReasonProofReplayed, ReasonProofBeforeEpoch,
		ReasonNonceRequired, ReasonSenderConstraint, ReasonInsufficientScope, ReasonUnknownPlan,
		ReasonLicenseRevoked, ReasonNotEntitled, ReasonDPoPTokenAsPassword, ReasonUnsupportedGrant, ReasonInvalidForm,
		ReasonAuthorityUnavailable, ReasonReplayStoreUnavailable,
		ReasonReplayCacheFull,
		ReasonPolicyDenied, ReasonPolicyUnavailable, ReasonPolicyTimeout, ReasonPolicyInvalidResponse,
		ReasonInternal, ReasonClientClosed,
	}
}

// Denial is the error of a refused token request: a reason from the fixed
// set and the underlying cause (for logs only; it never reaches a client
// unless it is a *dpop.Error, whose descriptions are fixed strings).
type Denial struct {
	Reason Reason
	// DPoP is set when the challenge should use the DPoP scheme (the
	// request used it, or the token is DPoP-bound).
	DPoP bool
	// detail, when set, replaces the table's public message: a fixed
	// string that tells the client what to do, never request input.
	detail string
	// scope, when set, is the OAuth scope the access token lacks: the
	// scope attribute of the 403 challenge (RFC 6750 §3).
	scope string
	cause error
}

func (d *Denial) Error() string {
	if d.cause == nil {
		return string(d.Reason)
	}
	return string(d.Reason) + ": " + d.cause.Error()
}

// Unwrap returns the cause.
func (d *Denial) Unwrap() error { return d.cause }

func deny(r Reason, cause error) *Denial { return &Denial{Reason: r, cause: cause} }
