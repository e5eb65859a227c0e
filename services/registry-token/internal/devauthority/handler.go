package devauthority

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// MaxTokenTTL caps the lifetime a token-endpoint caller may ask for.
const MaxTokenTTL = time.Hour

// ServeHTTP serves discovery, the JWKS and the token endpoint.
//
// The token endpoint (POST /token, form-encoded) mints an OpTok for any
// caller; it is development-only and authenticates nobody. Form fields:
//
//	grant_type  "client_credentials" (required)
//	sub         subject (default "dev-user")
//	plan        stellaops:plan (optional)
//	license     stellaops:license (optional)
//	scope       space-separated scopes (default "registry.token.issue")
//	audience    aud, repeatable (default: the Authority's audience)
//	ttl         Go duration, at most MaxTokenTTL (default DefaultTTL)
//
// With a DPoP header the proof is checked against htm POST and htu =
// TokenURL() and the token is bound to its key (cnf.jkt, token_type DPoP).
// Without one, a TLS client certificate binds the token (cnf.x5t#S256,
// token_type Bearer). A request with neither is refused: this Authority
// never hands out unbound tokens over HTTP.
func (a *Authority) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case DiscoveryPath:
		a.serveGET(w, r, a.discovery)
	case JWKSPath:
		a.serveGET(w, r, func() ([]byte, error) { return a.JWKS(), nil })
	case TokenPath:
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
			return
		}
		a.serveToken(w, r)
	default:
		writeOAuthError(w, http.StatusNotFound, "not_found", "no such endpoint")
	}
}

func (a *Authority) serveGET(w http.ResponseWriter, r *http.Request, body func() ([]byte, error)) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "use GET")
		return
	}
	b, err := body()
	if err != nil {
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "cannot render document")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (a *Authority) discovery() ([]byte, error) {
	return json.Marshal(map[string]any{
		"issuer":                                     a.issuer,
		"jwks_uri":                                   a.issuer + JWKSPath,
		"token_endpoint":                             a.TokenURL(),
		"grant_types_supported":                      []string{"client_credentials"},
		"token_endpoint_auth_methods_supported":      []string{"none", "tls_client_auth"},
		"dpop_signing_alg_values_supported":          []string{"ES256", "EdDSA", "PS256", "RS256"},
		"id_token_signing_alg_values_supported":      []string{"ES256"},
		"tls_client_certificate_bound_access_tokens": true,
	})
}

func (a *Authority) serveToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != "client_credentials" {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported")
		return
	}
	g := Grant{
		Subject: f.Get("sub"),
		Plan:    f.Get("plan"),
		License: f.Get("license"),
		Scopes:  strings.Fields(f.Get("scope")),
		TTL:     DefaultTTL,
	}
	if g.Subject == "" {
		g.Subject = "dev-user"
	}
	if len(g.Scopes) == 0 {
		g.Scopes = []string{DefaultScope}
	}
	for _, v := range f["audience"] {
		g.Audience = append(g.Audience, strings.Fields(v)...)
	}
	if s := f.Get("ttl"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 || d > MaxTokenTTL {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "ttl must be a positive duration of at most 1h")
			return
		}
		g.TTL = d
	}
	tokenType := "DPoP"
	switch {
	case r.Header.Get("DPoP") != "":
		if a.verify == nil {
			writeOAuthError(w, http.StatusNotImplemented, "unsupported_token_type", "no DPoP proof verifier is configured")
			return
		}
		jkt, err := a.verify(r, a.TokenURL())
		if err != nil {
			writeOAuthError(w, http.StatusBadRequest, "invalid_dpop_proof", "the DPoP proof is invalid")
			return
		}
		g.JKT = jkt
	case r.TLS != nil && len(r.TLS.PeerCertificates) > 0:
		g.CertThumbprint = CertThumbprint(r.TLS.PeerCertificates[0])
		tokenType = "Bearer"
	default:
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "a DPoP proof or a TLS client certificate is required")
		return
	}
	tok, err := a.Mint(g)
	if err != nil {
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "cannot mint token")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(TokenResponse{ //nolint:gosec // G117: a token endpoint's answer is the access token
		AccessToken: tok,
		TokenType:   tokenType,
		ExpiresIn:   int64(g.TTL / time.Second),
		Scope:       strings.Join(g.Scopes, " "),
	})
}

// TokenResponse is the token endpoint's success body (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope,omitempty"`
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}
