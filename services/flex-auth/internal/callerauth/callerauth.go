// Package callerauth authenticates callers of the decision endpoints when
// flex-auth is configured to: with an access token (JWT) issued by the
// Authority, for a configured audience, with the required scopes, and
// sender-constrained: DPoP-bound (cnf.jkt, RFC 9449, proof checked with
// pkg/dpop) or certificate-bound (cnf.x5t#S256, RFC 8705, against the TLS
// client certificate); or, without a token, with a TLS client certificate
// verified against the server's client CA whose subject or a SAN is on an
// allow-list (service-to-service callers such as registry-token). Off by
// default.
package callerauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/jwks"
)

// Config configures an Authenticator.
type Config struct {
	// Issuer, when set, accepts access tokens of this Authority; empty:
	// only certificate callers (ClientCertificates) are accepted.
	Issuer               string
	MetadataURL          string // OIDC discovery document
	RequireHTTPSMetadata bool
	Audiences            []string // the token's aud must contain one
	RequiredScopes       []string // the token's scope must contain all
	PublicURL            string   // base of the DPoP htu (what callers call)
	DPoPMaxAge           time.Duration
	DPoPClockSkew        time.Duration
	// Replay remembers caller proofs; its epoch is enforced (a proof
	// dated before a restart, flush or failover needs a nonce issued
	// since: 401 use_dpop_nonce, one caller retry).
	Replay dpop.EpochReplayCache
	// Nonces issues and checks those nonces (nil: a random key of this
	// process, fine for one replica).
	Nonces dpop.NonceSource
	// JWKS refresh: periodic interval, maximum staleness before the keys
	// are dropped, and the minimum gap between refreshes for unknown kids.
	JWKSRefreshInterval time.Duration
	JWKSMaxStale        time.Duration
	MinRefresh          time.Duration
	// ClientCertificates lists the subject DNs ("CN=registry-token,O=...")
	// and SANs (DNS names, URIs, e-mail addresses, IP addresses) of client
	// certificates accepted without a token. The certificate must have
	// been verified against the server's client CA. Each entry matches
	// only names of its own kind (see newAllowList).
	ClientCertificates []string
	HTTPClient         *http.Client
	Logger             *zap.Logger
	Now                func() time.Time
}

// Authenticator checks callers. Safe for concurrent use.
type Authenticator struct {
	cfg      Config
	verifier *dpop.Verifier // nil without Issuer
	keys     *jwks.Cache    // nil without Issuer
	certs    allowList
}

// New builds an Authenticator; with an Issuer it fetches the Authority's
// discovery document and key set once (start-up fails if it cannot). Run
// keeps the keys fresh.
func New(ctx context.Context, cfg Config) (*Authenticator, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	a := &Authenticator{cfg: cfg, certs: newAllowList(cfg.ClientCertificates)}
	if cfg.Issuer == "" {
		if a.certs.empty() {
			return nil, errors.New("auth: neither an issuer nor client certificates are configured")
		}
		return a, nil
	}
	if err := jwks.CheckURL(cfg.MetadataURL, cfg.RequireHTTPSMetadata); err != nil {
		return nil, fmt.Errorf("auth.metadataUrl: %w", err)
	}
	v, err := dpop.NewVerifier(dpop.Config{PublicBaseURL: cfg.PublicURL, MaxAge: cfg.DPoPMaxAge,
		ClockSkew: cfg.DPoPClockSkew, Replay: cfg.Replay, ReplayEpoch: true, Nonces: cfg.Nonces, Now: cfg.Now})
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	a.verifier = v
	a.keys = jwks.New(jwks.Config{Issuer: cfg.Issuer, MetadataURL: cfg.MetadataURL,
		RequireHTTPSMetadata: cfg.RequireHTTPSMetadata, RefreshInterval: cfg.JWKSRefreshInterval,
		MaxStale: cfg.JWKSMaxStale, MinRefreshGap: cfg.MinRefresh, HTTPClient: cfg.HTTPClient,
		Logger: cfg.Logger, Now: cfg.Now})
	if err := a.keys.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return a, nil
}

// Run refreshes the Authority's keys until ctx is done (nothing to do
// without an Issuer).
func (a *Authenticator) Run(ctx context.Context) {
	if a.keys != nil {
		a.keys.Run(ctx)
	}
}

// Ready reports whether callers can be authenticated: while the
// Authority's keys are held (they are dropped after JWKSMaxStale without a
// successful fetch), or always when client certificates are accepted too
// (those callers, such as registry-token, are still served: taking the
// pods out of service would refuse them as well).
func (a *Authenticator) Ready() bool { return a.keys == nil || !a.certs.empty() || a.keys.Ready() }

// Authenticate checks the caller of r. Errors are *dpop.Error values
// (401 invalid_token / invalid_dpop_proof, 403 insufficient_scope, 503).
func (a *Authenticator) Authenticate(r *http.Request) error {
	_, err := a.Identify(r)
	return err
}

// Identify checks the caller of r as Authenticate does and returns who it
// is: "client:" and the token's client_id (else "sub:" and its sub, else
// "jkt:" or "x5t#S256:" and the key it is bound to) for a token caller,
// "cert:" and the certificate's subject DN for a certificate caller. The
// identity keys per-caller limits and binds search page tokens.
func (a *Authenticator) Identify(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	switch {
	case len(values) > 1:
		return "", dpop.ErrInvalidToken.WithDescription("Exactly one Authorization header is allowed.")
	case len(values) == 0:
		if a.certificateCaller(r) {
			return "cert:" + r.TLS.PeerCertificates[0].Subject.String(), nil
		}
		return "", dpop.ErrInvalidToken.WithDescription("An access token is required.")
	}
	if a.keys == nil {
		return "", dpop.ErrInvalidToken.WithDescription("Access tokens are not accepted here; present an allowed client certificate.")
	}
	scheme, raw, ok := strings.Cut(values[0], " ")
	if !ok || raw == "" || (!strings.EqualFold(scheme, dpop.SchemeDPoP) && !strings.EqualFold(scheme, dpop.SchemeBearer)) {
		return "", dpop.ErrInvalidToken.WithDescription("An access token is required.")
	}
	cl, err := a.parse(r.Context(), raw)
	if errors.Is(err, jwks.ErrNotReady) {
		return "", dpop.ErrTemporarilyUnavailable.WithDescription("The Authority's keys are not available.").WithCause(err)
	}
	if err != nil {
		return "", dpop.ErrInvalidToken.WithCause(err)
	}
	if missing := missingScope(cl.Scope, a.cfg.RequiredScopes); missing != "" {
		return "", dpop.ErrInsufficientScope.WithCause(fmt.Errorf("scope %s missing", missing))
	}
	switch {
	case cl.Cnf.JKT != "":
		req := dpop.FromHTTP(r)
		req.AccessToken, req.TokenJKT = raw, cl.Cnf.JKT
		if _, err := a.verifier.Verify(r.Context(), req); err != nil {
			return "", err
		}
		return cl.identity("jkt:" + cl.Cnf.JKT), nil
	case cl.Cnf.X5T != "":
		cert, err := dpop.ClientCertificate(r.TLS, r.Header, dpop.PeerAddr(r), dpop.TrustedProxies{})
		if err != nil {
			return "", err
		}
		if err := dpop.CheckCertBinding(cert, cl.Cnf.X5T); err != nil {
			return "", err
		}
		return cl.identity("x5t#S256:" + cl.Cnf.X5T), nil
	}
	return "", dpop.ErrInvalidToken.WithDescription("The access token is not sender-constrained.")
}

// identity names the caller of a verified token: its client, else its
// subject, else bound (the key it is bound to).
func (c *claims) identity(bound string) string {
	switch {
	case c.ClientID != "":
		return "client:" + c.ClientID
	case c.Sub != "":
		return "sub:" + c.Sub
	}
	return bound
}

// certificateCaller reports whether r came with a client certificate that
// the TLS handshake verified against the client CA and whose subject DN or
// a SAN is on the allow-list. A certificate forwarded in a header never
// counts.
func (a *Authenticator) certificateCaller(r *http.Request) bool {
	if a.certs.empty() || r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.PeerCertificates) == 0 {
		return false
	}
	return a.certs.matches(r.TLS.PeerCertificates[0])
}

// claims are the access token claims callerauth reads.
type claims struct {
	Iss      string   `json:"iss"`
	Aud      audience `json:"aud"`
	Scope    string   `json:"scope"`
	Sub      string   `json:"sub"`
	ClientID string   `json:"client_id"`
	Cnf      struct {
		JKT string `json:"jkt"`
		X5T string `json:"x5t#S256"`
	} `json:"cnf"`
	jwks.TimeClaims
}

type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*a = audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = l
	return nil
}

// parse verifies the JWT's signature with the Authority's keys (see
// pkg/jwks) and its iss, aud, exp (required), nbf and iat.
func (a *Authenticator) parse(ctx context.Context, raw string) (*claims, error) {
	v, err := a.keys.Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	var cl claims
	if err := json.Unmarshal(v.Payload, &cl); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	if cl.Iss != a.cfg.Issuer {
		return nil, errors.New("issuer not accepted")
	}
	if _, err := cl.Check(a.cfg.Now(), a.cfg.DPoPClockSkew); err != nil {
		return nil, err
	}
	for _, aud := range cl.Aud {
		for _, want := range a.cfg.Audiences {
			if aud == want {
				return &cl, nil
			}
		}
	}
	return nil, errors.New("audience not accepted")
}

// missingScope returns the first required scope that scope lacks, "" when
// it has them all.
func missingScope(scope string, required []string) string {
	have := map[string]bool{}
	for _, f := range strings.Fields(scope) {
		have[f] = true
	}
	for _, r := range required {
		if !have[r] {
			return r
		}
	}
	return ""
}
