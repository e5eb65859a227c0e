// Package callerauth authenticates callers of the decision endpoints when
// flex-auth is configured with an Authority: an access token (JWT) issued
// by it, for a configured audience, with the required scopes, and
// sender-constrained: DPoP-bound (cnf.jkt, RFC 9449, proof checked with
// pkg/dpop) or certificate-bound (cnf.x5t#S256, RFC 8705, against the TLS
// client certificate). Off by default.
package callerauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/stellaops/authgate/pkg/dpop"
)

// Config configures an Authenticator.
type Config struct {
	Issuer               string
	MetadataURL          string // OIDC discovery document
	RequireHTTPSMetadata bool
	Audiences            []string // the token's aud must contain one
	RequiredScopes       []string // the token's scope must contain all
	PublicURL            string   // base of the DPoP htu (what callers call)
	DPoPMaxAge           time.Duration
	DPoPClockSkew        time.Duration
	Replay               dpop.ReplayCache
	HTTPClient           *http.Client
	Now                  func() time.Time
	// MinRefresh bounds JWKS refreshes triggered by unknown key ids.
	MinRefresh time.Duration
}

// Authenticator checks callers. Safe for concurrent use.
type Authenticator struct {
	cfg      Config
	verifier *dpop.Verifier
	jwksURL  string

	mu          sync.Mutex
	keys        jwk.Set
	lastRefresh time.Time
}

// New fetches the Authority's discovery document and key set.
func New(ctx context.Context, cfg Config) (*Authenticator, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.MinRefresh <= 0 {
		cfg.MinRefresh = 30 * time.Second
	}
	if err := checkURL(cfg.MetadataURL, cfg.RequireHTTPSMetadata); err != nil {
		return nil, fmt.Errorf("auth.metadataUrl: %w", err)
	}
	v, err := dpop.NewVerifier(dpop.Config{PublicBaseURL: cfg.PublicURL, MaxAge: cfg.DPoPMaxAge,
		ClockSkew: cfg.DPoPClockSkew, Replay: cfg.Replay, Now: cfg.Now})
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	var meta struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := getJSON(ctx, cfg.HTTPClient, cfg.MetadataURL, &meta); err != nil {
		return nil, fmt.Errorf("auth: discovery: %w", err)
	}
	if meta.Issuer != cfg.Issuer {
		return nil, fmt.Errorf("auth: discovery names issuer %q, configured %q", meta.Issuer, cfg.Issuer)
	}
	if err := checkURL(meta.JWKSURI, cfg.RequireHTTPSMetadata); err != nil {
		return nil, fmt.Errorf("auth: jwks_uri: %w", err)
	}
	a := &Authenticator{cfg: cfg, verifier: v, jwksURL: meta.JWKSURI}
	if err := a.refresh(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

func checkURL(raw string, requireHTTPS bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	if requireHTTPS && u.Scheme != "https" {
		return fmt.Errorf("%q is not https (set requireHttpsMetadata: false only for development)", raw)
	}
	return nil
}

func getJSON(ctx context.Context, c *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", u, resp.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

// refresh reloads the key set.
func (a *Authenticator) refresh(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.jwksURL, nil)
	if err != nil {
		return err
	}
	resp, err := a.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("auth: jwks: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("auth: jwks: HTTP %d %v", resp.StatusCode, err)
	}
	set, err := jwk.Parse(body)
	if err != nil {
		return fmt.Errorf("auth: jwks: %w", err)
	}
	a.mu.Lock()
	a.keys, a.lastRefresh = set, a.cfg.Now()
	a.mu.Unlock()
	return nil
}

func (a *Authenticator) keySet() jwk.Set {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.keys
}

// Authenticate checks the caller of r. Errors are *dpop.Error values
// (401 invalid_token / invalid_dpop_proof, 403 insufficient_scope, 503).
func (a *Authenticator) Authenticate(r *http.Request) error {
	scheme, raw, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || raw == "" || (!strings.EqualFold(scheme, dpop.SchemeDPoP) && !strings.EqualFold(scheme, dpop.SchemeBearer)) {
		return dpop.ErrInvalidToken.WithDescription("An access token is required.")
	}
	tok, err := a.parse(r.Context(), raw)
	if err != nil {
		return dpop.ErrInvalidToken.WithCause(err)
	}
	if !hasScopes(tok, a.cfg.RequiredScopes) {
		return dpop.ErrInsufficientScope
	}
	cnf, _ := tok.PrivateClaims()["cnf"].(map[string]any)
	jkt, _ := cnf["jkt"].(string)
	x5t, _ := cnf["x5t#S256"].(string)
	switch {
	case jkt != "":
		req := dpop.FromHTTP(r)
		req.AccessToken, req.TokenJKT = raw, jkt
		_, err := a.verifier.Verify(r.Context(), req)
		return err
	case x5t != "":
		cert, err := dpop.ClientCertificate(r.TLS, r.Header, dpop.PeerAddr(r), dpop.TrustedProxies{})
		if err != nil {
			return err
		}
		return dpop.CheckCertBinding(cert, x5t)
	}
	return dpop.ErrInvalidToken.WithDescription("The access token is not sender-constrained.")
}

// parse verifies the JWT's signature with the Authority's keys (one
// rate-limited refresh on an unknown key) and its iss, aud, exp and nbf.
func (a *Authenticator) parse(ctx context.Context, raw string) (jwt.Token, error) {
	opts := func(set jwk.Set) []jwt.ParseOption {
		return []jwt.ParseOption{jwt.WithKeySet(set), jwt.WithValidate(true), jwt.WithIssuer(a.cfg.Issuer),
			jwt.WithClock(jwt.ClockFunc(a.cfg.Now)), jwt.WithAcceptableSkew(a.cfg.DPoPClockSkew)}
	}
	tok, err := jwt.ParseString(raw, opts(a.keySet())...)
	if err != nil && unknownKey(err) {
		a.mu.Lock()
		stale := a.cfg.Now().Sub(a.lastRefresh) >= a.cfg.MinRefresh
		a.mu.Unlock()
		if stale && a.refresh(ctx) == nil {
			tok, err = jwt.ParseString(raw, opts(a.keySet())...)
		}
	}
	if err != nil {
		return nil, err
	}
	for _, aud := range tok.Audience() {
		for _, want := range a.cfg.Audiences {
			if aud == want {
				return tok, nil
			}
		}
	}
	return nil, errors.New("audience not accepted")
}

// unknownKey reports whether err says the key set lacks the token's key,
// so that a refresh of the set is worth trying.
func unknownKey(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "find key") || strings.Contains(msg, "matching key")
}

func hasScopes(tok jwt.Token, required []string) bool {
	have := map[string]bool{}
	if s, ok := tok.PrivateClaims()["scope"].(string); ok {
		for _, f := range strings.Fields(s) {
			have[f] = true
		}
	}
	for _, r := range required {
		if !have[r] {
			return false
		}
	}
	return true
}
