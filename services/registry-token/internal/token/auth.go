package token

import (
	"errors"
	"net/http"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/services/registry-token/internal/authority"
)

// maxTokenLength bounds the OpTok before any decoding.
const maxTokenLength = 16 << 10

// requestCredential returns the OpTok of the request: the one of the
// OAuth2 form (POST) or of the Authorization header, never both.
func requestCredential(r *http.Request, form credential) (credential, error) {
	if form.via == "" {
		return headerCredential(r)
	}
	if len(r.Header.Values("Authorization")) > 0 {
		return form, &Denial{Reason: ReasonInvalidForm, detail: msgTwoCredentials, cause: errors.New("token in header and form")}
	}
	return form, form.check()
}

// authenticate validates the OpTok and its sender constraint:
//
//   - "DPoP <tok>" or "Bearer <tok>" with a DPoP header: the token must be
//     DPoP-bound (cnf.jkt) and the proof must be valid for this request,
//     carry the token's hash and be signed by the bound key;
//   - a DPoP-bound token is never accepted without such a proof, whatever
//     the scheme; as a password (Basic, the OAuth2 form) it is refused,
//     except in the form of a POST that carries a DPoP header;
//   - an mTLS-bound token (cnf.x5t#S256) must match the TLS client
//     certificate, or one forwarded by a trusted proxy;
//   - as a password, a token must be certificate-bound (or DPoP-bound in
//     the form with a proof), and must look like a JWT before the
//     Authority is asked about it;
//   - an unbound token is accepted only when the sender constraint is
//     optional, and only with the Bearer scheme and no DPoP header.
func (h *Handler) authenticate(r *http.Request, cred credential) (*authority.OpTok, error) {
	if cred.password() && !looksLikeJWT(cred.raw) {
		return nil, &Denial{Reason: ReasonInvalidToken, detail: msgNotJWT, cause: errors.New("password is not a JWT")}
	}
	usedDPoP := cred.via == carrierDPoP
	hasProof := len(r.Header.Values(dpop.HeaderDPoP)) > 0
	tok, err := h.d.Authority.Validate(r.Context(), cred.raw)
	if err != nil {
		return nil, authorityDenial(err, usedDPoP)
	}
	if tok.JKT != "" {
		if cred.via == carrierBasic || (cred.password() && !hasProof) {
			return nil, &Denial{Reason: ReasonDPoPTokenAsPassword, cause: errors.New("DPoP-bound token as a password")}
		}
		req := dpop.FromHTTP(r)
		req.AccessToken, req.TokenJKT = cred.raw, tok.JKT
		if _, err := h.d.Proofs.Verify(r.Context(), req); err != nil {
			return nil, proofDenial(err)
		}
	} else if usedDPoP || hasProof {
		// A DPoP proof cannot be bound to a token without cnf.jkt.
		return nil, &Denial{Reason: ReasonSenderConstraint, DPoP: true,
			cause: dpop.ErrInvalidToken.WithDescription("The access token is not DPoP-bound.")}
	}
	if tok.X5T != "" {
		cert, err := dpop.ClientCertificate(r.TLS, r.Header, dpop.PeerAddr(r), h.d.Proxies)
		if err == nil {
			err = dpop.CheckCertBinding(cert, tok.X5T)
		}
		if err != nil {
			return nil, &Denial{Reason: ReasonSenderConstraint, DPoP: tok.JKT != "", cause: err}
		}
	}
	if cred.password() && !tok.Bound() {
		return nil, &Denial{Reason: ReasonSenderConstraint, detail: msgNotCertBound,
			cause: errors.New("unbound token as a password")}
	}
	if !tok.Bound() && h.d.Policy.RequireSenderConstraint {
		return nil, &Denial{Reason: ReasonSenderConstraint,
			cause: dpop.ErrInvalidToken.WithDescription("The access token is not sender-constrained.")}
	}
	return tok, nil
}

// errLifetime is the public description of an OpTok refused by
// authority.maxTokenLifetime.
var errLifetime = dpop.ErrInvalidToken.WithDescription(
	"The access token lives longer than this service accepts (exp - iat above authority.maxTokenLifetime, or no iat).")

// errTokenType is the public description of an OpTok refused by
// authority.requireAccessTokenType.
var errTokenType = dpop.ErrInvalidToken.WithDescription(
	"The access token is not a JWT access token: its JWS header typ must be at+jwt (RFC 9068).")

func authorityDenial(err error, usedDPoP bool) error {
	switch {
	case errors.Is(err, authority.ErrInsufficientScope):
		d := &Denial{Reason: ReasonInsufficientScope, DPoP: usedDPoP, cause: err}
		if se := (*authority.ScopeError)(nil); errors.As(err, &se) {
			d.scope = se.Missing
		}
		return d
	case errors.Is(err, authority.ErrNotReady):
		return deny(ReasonAuthorityUnavailable, err)
	case errors.Is(err, authority.ErrLifetime):
		return &Denial{Reason: ReasonInvalidToken, DPoP: usedDPoP, cause: errors.Join(err, errLifetime)}
	case errors.Is(err, authority.ErrTokenType):
		return &Denial{Reason: ReasonInvalidToken, DPoP: usedDPoP, cause: errors.Join(err, errTokenType)}
	}
	return &Denial{Reason: ReasonInvalidToken, DPoP: usedDPoP, cause: err}
}

func proofDenial(err error) error {
	r := ReasonInvalidProof
	switch {
	case errors.Is(err, dpop.ErrProofBeforeEpoch):
		r = ReasonProofBeforeEpoch
	case errors.Is(err, dpop.ErrReplayed):
		r = ReasonProofReplayed
	case errors.Is(err, dpop.ErrUseDPoPNonce):
		r = ReasonNonceRequired
	case errors.Is(err, dpop.ErrInvalidToken):
		r = ReasonSenderConstraint
	case errors.Is(err, dpop.ErrReplayCacheFull):
		r = ReasonReplayCacheFull
	case errors.Is(err, dpop.ErrTemporarilyUnavailable):
		r = ReasonReplayStoreUnavailable
	}
	return &Denial{Reason: r, DPoP: true, cause: err}
}
