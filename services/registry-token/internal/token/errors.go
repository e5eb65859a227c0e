package token

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/httpx"
)

// descriptor is one row of the error table: the HTTP status, the wire
// error code and the public message of a reason.
type descriptor struct {
	status  int
	code    string
	message string
}

// errorTable maps every Reason to what the client sees. It is the only
// place where domain errors meet HTTP.
func errorTable(r Reason) descriptor {
	switch r {
	case ReasonMissingService:
		return descriptor{http.StatusBadRequest, "invalid_request", "The service parameter is required (exactly once)."}
	case ReasonServiceNotAllowed:
		return descriptor{http.StatusBadRequest, "invalid_request", "The service is not served by this token service."}
	case ReasonInvalidScope:
		return descriptor{http.StatusBadRequest, "invalid_scope", "The scope parameter is malformed."}
	case ReasonTooManyScopes:
		return descriptor{http.StatusBadRequest, "invalid_scope", "Too many scopes in one request."}
	case ReasonMissingToken:
		return descriptor{http.StatusUnauthorized, "invalid_request", "An Authority access token is required."}
	case ReasonInvalidToken:
		return descriptor{http.StatusUnauthorized, "invalid_token", "The access token is invalid."}
	case ReasonInvalidProof, ReasonProofReplayed:
		return descriptor{http.StatusUnauthorized, "invalid_dpop_proof", "The DPoP proof is invalid."}
	case ReasonNonceRequired, ReasonProofBeforeEpoch:
		return descriptor{http.StatusUnauthorized, "use_dpop_nonce", "A fresh server nonce is required in the DPoP proof."}
	case ReasonSenderConstraint:
		return descriptor{http.StatusUnauthorized, "invalid_token", "The access token is not bound to the presented DPoP key or client certificate."}
	case ReasonInsufficientScope:
		return descriptor{http.StatusForbidden, "insufficient_scope", "The access token does not grant the scope required to request registry tokens."}
	case ReasonUnknownPlan:
		return descriptor{http.StatusForbidden, "access_denied", "The caller's plan is not known."}
	case ReasonLicenseRevoked:
		return descriptor{http.StatusForbidden, "access_denied", "The caller's licence has been revoked."}
	case ReasonNotEntitled:
		return descriptor{http.StatusForbidden, "access_denied", "The caller's plan grants none of the requested access."}
	case ReasonDPoPTokenAsPassword:
		return descriptor{http.StatusUnauthorized, "invalid_token", msgDPoPAsPassword}
	case ReasonUnsupportedGrant:
		return descriptor{http.StatusBadRequest, "unsupported_grant_type", "The grant_type is not supported; use refresh_token or password."}
	case ReasonInvalidForm:
		return descriptor{http.StatusBadRequest, "invalid_request", "The token request form is malformed."}
	case ReasonAuthorityUnavailable:
		return descriptor{http.StatusServiceUnavailable, "temporarily_unavailable", "The Authority's signing keys are not available; no token is issued."}
	case ReasonReplayCacheFull:
		return descriptor{http.StatusServiceUnavailable, "temporarily_unavailable", "This replica's DPoP replay cache is full; no token is issued. Retry later."}
	case ReasonReplayStoreUnavailable:
		return descriptor{http.StatusServiceUnavailable, "temporarily_unavailable", "The DPoP replay cache cannot record the proof; no token is issued."}
	case ReasonPolicyDenied:
		return descriptor{http.StatusForbidden, "access_denied", "Policy denies all of the requested access that the caller's plan grants."}
	case ReasonPolicyUnavailable:
		return descriptor{http.StatusServiceUnavailable, "temporarily_unavailable", "The policy service cannot be reached; no token is issued."}
	case ReasonPolicyTimeout:
		return descriptor{http.StatusServiceUnavailable, "temporarily_unavailable", "The policy service did not answer in time; no token is issued."}
	case ReasonClientClosed:
		// Nobody reads it; 499 is the conventional "client closed request".
		return descriptor{StatusClientClosed, "client_closed_request", "The client closed the request before the answer."}
	case ReasonPolicyInvalidResponse:
		return descriptor{http.StatusServiceUnavailable, "temporarily_unavailable", "The policy service gave an invalid answer; no token is issued."}
	}
	return descriptor{http.StatusInternalServerError, "server_error", "internal error"}
}

// StatusClientClosed is the status recorded for a request whose client
// went away before the answer (nginx's 499).
const StatusClientClosed = 499

// RetryAfter is the Retry-After value (seconds) of every 503 answer.
const RetryAfter = "5"

// NewMapper returns the service's httpx.Mapper. algs is the DPoP proof
// allow-list advertised in DPoP challenges. basicRealm, when not empty,
// adds a `Basic realm="..."` challenge to every 401: set it when the
// listener verifies client certificates (or a trusted proxy forwards
// them), so that clients know a certificate-bound OpTok may come as a
// password.
func NewMapper(algs []string, basicRealm string) httpx.Mapper {
	algs = append([]string(nil), algs...)
	return func(err error) *httpx.Problem {
		var d *Denial
		if !errors.As(err, &d) {
			return nil
		}
		desc := errorTable(d.Reason)
		p := &httpx.Problem{Status: desc.status, Code: desc.code, Description: desc.message,
			Extra: map[string]any{"reason": string(d.Reason)}}
		if desc.status == http.StatusServiceUnavailable {
			p.Headers = http.Header{"Retry-After": []string{RetryAfter}}
		}
		var de *dpop.Error
		if errors.As(err, &de) && de.Description != "" && desc.status == http.StatusUnauthorized {
			// pkg/dpop descriptions are fixed strings, never request input.
			p.Description = de.Description
		}
		if d.detail != "" {
			p.Description = d.detail
		}
		switch desc.status {
		case http.StatusUnauthorized:
			p.Headers = challenges(d, p, algs, basicRealm)
			if de != nil && de.Nonce != "" {
				p.Headers.Set(dpop.HeaderDPoPNonce, de.Nonce)
			}
		case http.StatusForbidden:
			p.Headers = forbidden(d, p, algs)
		}
		return p
	}
}

// forbidden builds the challenges of a 403: the access token was valid but
// grants too little, which RFC 6750 §3.1 (and RFC 9449 §7.1 for DPoP)
// signals with error="insufficient_scope" on the scheme the client used,
// next to the problem body (whose error and reason stay precise). The
// scope attribute names the OAuth scope the token lacks when that is the
// cause; a plan or policy refusal has no OAuth scope to name.
func forbidden(d *Denial, p *httpx.Problem, algs []string) http.Header {
	c := dpop.Challenge{Scheme: dpop.SchemeBearer, Error: string(ReasonInsufficientScope),
		ErrorDescription: p.Description, Scope: d.scope}
	if d.DPoP {
		c.Scheme, c.Algs = dpop.SchemeDPoP, algs
	}
	return http.Header{"Www-Authenticate": {c.String()}}
}

// challenges builds the RFC 6750 / RFC 9449 WWW-Authenticate headers: a
// DPoP challenge with the accepted algorithms and a Bearer challenge. The
// error attributes go on the scheme the client used (none when no token
// was presented, RFC 6750 §3.1). With basicRealm, a Basic challenge
// (RFC 7617) follows.
func challenges(d *Denial, p *httpx.Problem, algs []string, basicRealm string) http.Header {
	dp := dpop.Challenge{Scheme: dpop.SchemeDPoP, Algs: algs}
	br := dpop.Challenge{Scheme: dpop.SchemeBearer}
	if d.Reason != ReasonMissingToken {
		target := &br
		if d.DPoP {
			target = &dp
		}
		target.Error, target.ErrorDescription = p.Code, p.Description
	}
	h := http.Header{}
	h.Add("WWW-Authenticate", dp.String())
	h.Add("WWW-Authenticate", br.String())
	if basicRealm != "" {
		h.Add("WWW-Authenticate", `Basic realm=`+strconv.Quote(basicRealm)+`, charset="UTF-8"`)
	}
	return h
}
