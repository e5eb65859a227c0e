package token_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
)

const pullBase = "service=registry.localhost&scope=repository:stella-ops/public/base:pull"

// issued checks a 200 response and returns the verified registry token.
func issued(t *testing.T, f *fixture, rec interface {
	Result() *http.Response
}, body []byte) jwt.Token {
	t.Helper()
	if res := rec.Result(); res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d, Cache-Control %q, want 200 and no-store: %s", res.StatusCode, res.Header.Get("Cache-Control"), body)
	}
	var resp struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		IssuedAt    string `json:"issued_at"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	if resp.Token == "" || resp.Token != resp.AccessToken || resp.ExpiresIn != 300 {
		t.Fatalf("response %+v", resp)
	}
	if _, err := time.Parse(time.RFC3339, resp.IssuedAt); err != nil {
		t.Fatalf("issued_at %q: %v", resp.IssuedAt, err)
	}
	msg, err := jws.Parse([]byte(resp.Token))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	if h.Type() != "JWT" || h.Algorithm() != jwa.ES256 || h.KeyID() != f.key.KeyID() {
		t.Fatalf("header typ=%q alg=%q kid=%q", h.Type(), h.Algorithm(), h.KeyID())
	}
	tok, err := jwt.Parse([]byte(resp.Token), jwt.WithKeySet(f.key.PublicSet()), jwt.WithValidate(true),
		jwt.WithClock(jwt.ClockFunc(f.clock.Now)), jwt.WithIssuer("registry-token"), jwt.WithAudience(service))
	if err != nil {
		t.Fatalf("registry token does not verify: %v", err)
	}
	if tok.Subject() != "user-1" || tok.JwtID() == "" {
		t.Fatalf("sub=%q jti=%q", tok.Subject(), tok.JwtID())
	}
	now := f.clock.Now()
	if !tok.IssuedAt().Equal(now) || !tok.Expiration().Equal(now.Add(5*time.Minute)) || !tok.NotBefore().Equal(now.Add(-5*time.Second)) {
		t.Fatalf("iat=%v exp=%v nbf=%v now=%v", tok.IssuedAt(), tok.Expiration(), tok.NotBefore(), now)
	}
	return tok
}

func accessOf(t *testing.T, tok jwt.Token) string {
	t.Helper()
	a, ok := tok.Get("access")
	if !ok {
		t.Fatal("no access claim")
	}
	b, _ := json.Marshal(a)
	return string(b)
}

func TestIssueDPoPScheme(t *testing.T) {
	f := newFixture(t, options{})
	tok := f.mint(f.claims())
	rec := f.do(request(pullBase, "DPoP "+tok, f.proof(tok)))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q", cc)
	}
	got := accessOf(t, issued(t, f, rec, rec.Body.Bytes()))
	if want := `[{"actions":["pull"],"name":"stella-ops/public/base","type":"repository"}]`; got != want {
		t.Fatalf("access %s, want %s", got, want)
	}
}

// The documented sample: Authorization: Bearer <OpTok> plus a DPoP header.
func TestSeedSampleBearerWithDPoPHeader(t *testing.T) {
	f := newFixture(t, options{})
	tok := f.mint(f.claims())
	rec := f.do(request(pullBase, "Bearer "+tok, f.proof(tok)))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"token", "expires_in", "issued_at"} {
		if _, ok := body[k]; !ok {
			t.Fatalf("response lacks %s: %s", k, rec.Body)
		}
	}
	issued(t, f, rec, rec.Body.Bytes())
}

func TestGrants(t *testing.T) {
	cases := []struct {
		name, plan, query, access string
	}{
		{"docker login", "", "service=registry.localhost", `[]`},
		{"partial grant", "", "service=registry.localhost&scope=repository:stella-ops/public/base:pull,push", `[{"actions":["pull"],"name":"stella-ops/public/base","type":"repository"}]`},
		{"enterprise push", "enterprise", "service=registry.localhost&scope=repository:stella-ops/acme/app:push,pull", `[{"actions":["pull","push"],"name":"stella-ops/acme/app","type":"repository"}]`},
		{"several scopes, one refused", "", "service=registry.localhost&scope=repository:stella-ops/public/a:pull+repository:other/x:pull&scope=repository:stella-ops/public/b:pull", `[{"actions":["pull"],"name":"stella-ops/public/a","type":"repository"},{"actions":["pull"],"name":"stella-ops/public/b","type":"repository"}]`},
		{"catalog", "enterprise", "service=registry.localhost&scope=registry:catalog:*", `[{"actions":["*"],"name":"catalog","type":"registry"}]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, options{})
			c := f.claims()
			if tc.plan != "" {
				c["stellaops:plan"] = tc.plan
			}
			tok := f.mint(c)
			rec := f.do(request(tc.query, "DPoP "+tok, f.proof(tok)))
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if got := accessOf(t, issued(t, f, rec, rec.Body.Bytes())); got != tc.access {
				t.Fatalf("access %s, want %s", got, tc.access)
			}
		})
	}
}

// rejection is one way to get a request wrong.
type rejection struct {
	name   string
	opts   options
	build  func(f *fixture) *http.Request
	status int
	code   string
	reason string
}

func withClaims(edit func(f *fixture, c map[string]any)) func(f *fixture) *http.Request {
	return func(f *fixture) *http.Request {
		c := f.claims()
		edit(f, c)
		tok := f.mint(c)
		return request(pullBase, "DPoP "+tok, f.proof(tok))
	}
}

func rejections() []rejection {
	return []rejection{
		{name: "missing service", build: func(f *fixture) *http.Request {
			tok := f.mint(f.claims())
			return request("scope=repository:stella-ops/public/base:pull", "DPoP "+tok, f.proof(tok))
		}, status: 400, code: "invalid_request", reason: "missing_service"},
		{name: "service not allowed", build: func(f *fixture) *http.Request {
			return request("service=other&scope=repository:stella-ops/public/base:pull", "", "")
		}, status: 400, code: "invalid_request", reason: "service_not_allowed"},
		{name: "malformed scope", build: func(f *fixture) *http.Request {
			return request("service=registry.localhost&scope=repository:Bad:pull", "", "")
		}, status: 400, code: "invalid_scope", reason: "invalid_scope"},
		{name: "too many scopes", build: func(f *fixture) *http.Request {
			q := "service=registry.localhost"
			for i := 0; i <= 100; i++ {
				q += fmt.Sprintf("&scope=repository:stella-ops/public/r%d:pull", i)
			}
			return request(q, "", "")
		}, status: 400, code: "invalid_scope", reason: "too_many_scopes"},
		{name: "no authorization", build: func(f *fixture) *http.Request { return request(pullBase, "", "") },
			status: 401, code: "invalid_request", reason: "missing_token"},
		{name: "basic auth with a password that is not a JWT", build: func(f *fixture) *http.Request { return request(pullBase, "Basic dXNlcjpwYXNz", "") },
			status: 401, code: "invalid_token", reason: "invalid_token"},
		{name: "wrong iss", build: withClaims(func(f *fixture, c map[string]any) { c["iss"] = "https://evil.example" }),
			status: 401, code: "invalid_token", reason: "invalid_token"},
		{name: "wrong aud", build: withClaims(func(f *fixture, c map[string]any) { c["aud"] = []string{"other", "api"} }),
			status: 401, code: "invalid_token", reason: "invalid_token"},
		{name: "expired", build: withClaims(func(f *fixture, c map[string]any) { c["exp"] = f.clock.Now().Add(-time.Minute).Unix() }),
			status: 401, code: "invalid_token", reason: "invalid_token"},
		{name: "nbf in the future", build: withClaims(func(f *fixture, c map[string]any) { c["nbf"] = f.clock.Now().Add(2 * time.Minute).Unix() }),
			status: 401, code: "invalid_token", reason: "invalid_token"},
		{name: "missing required scope", build: withClaims(func(f *fixture, c map[string]any) { c["scope"] = "openid profile" }),
			status: 403, code: "insufficient_scope", reason: "insufficient_scope"},
		{name: "unknown plan", build: withClaims(func(f *fixture, c map[string]any) { c["stellaops:plan"] = "platinum" }),
			status: 403, code: "access_denied", reason: "unknown_plan"},
		{name: "revoked licence", build: withClaims(func(f *fixture, c map[string]any) { c["stellaops:license"] = "lic-revoked" }),
			status: 403, code: "access_denied", reason: "license_revoked"},
		{name: "plan grants nothing", build: func(f *fixture) *http.Request {
			tok := f.mint(f.claims())
			return request("service=registry.localhost&scope=repository:stella-ops/private/x:pull", "DPoP "+tok, f.proof(tok))
		}, status: 403, code: "access_denied", reason: "not_entitled"},
		{name: "unbound token when required", build: func(f *fixture) *http.Request {
			return request(pullBase, "Bearer "+f.mint(f.auth.Claims("user-1", f.clock.Now())), "")
		}, status: 401, code: "invalid_token", reason: "sender_constraint"},
		{name: "unbound token with DPoP scheme", opts: options{optional: true}, build: func(f *fixture) *http.Request {
			tok := f.mint(f.auth.Claims("user-1", f.clock.Now()))
			return request(pullBase, "DPoP "+tok, f.proof(tok))
		}, status: 401, code: "invalid_token", reason: "sender_constraint"},
		{name: "DPoP-bound token with Bearer and no proof", build: func(f *fixture) *http.Request {
			return request(pullBase, "Bearer "+f.mint(f.claims()), "")
		}, status: 401, code: "invalid_dpop_proof", reason: "invalid_proof"},
		{name: "proof for another token", build: func(f *fixture) *http.Request {
			tok := f.mint(f.claims())
			return request(pullBase, "DPoP "+tok, f.proof(f.mint(f.claims())))
		}, status: 401, code: "invalid_dpop_proof", reason: "invalid_proof"},
		{name: "proof key is not cnf.jkt", build: func(f *fixture) *http.Request {
			tok := f.mint(f.claims())
			return request(pullBase, "DPoP "+tok, f.proofWith(authoritytest.NewKey(f.t), publicURL+"/token", tok, ""))
		}, status: 401, code: "invalid_token", reason: "sender_constraint"},
		{name: "wrong htu", build: func(f *fixture) *http.Request {
			tok := f.mint(f.claims())
			return request(pullBase, "DPoP "+tok, f.proofWith(f.clientKey, "https://registry-token.test.evil/token", tok, ""))
		}, status: 401, code: "invalid_dpop_proof", reason: "invalid_proof"},
		{name: "htu from Host header is not trusted", build: func(f *fixture) *http.Request {
			tok := f.mint(f.claims())
			r := request(pullBase, "DPoP "+tok, f.proofWith(f.clientKey, "https://attacker.example/token", tok, ""))
			r.Host = "attacker.example"
			r.Header.Set("X-Forwarded-Host", "attacker.example")
			return r
		}, status: 401, code: "invalid_dpop_proof", reason: "invalid_proof"},
		{name: "mTLS cert mismatch", build: func(f *fixture) *http.Request {
			c := f.auth.Claims("user-1", f.clock.Now())
			c["cnf"] = map[string]any{"x5t#S256": dpop.CertThumbprint(selfSigned(f.t, "a"))}
			r := request(pullBase, "Bearer "+f.mint(c), "")
			r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{selfSigned(f.t, "b")}}
			return r
		}, status: 401, code: "invalid_token", reason: "sender_constraint"},
		{name: "mTLS-bound token without a certificate", build: func(f *fixture) *http.Request {
			c := f.auth.Claims("user-1", f.clock.Now())
			c["cnf"] = map[string]any{"x5t#S256": dpop.CertThumbprint(selfSigned(f.t, "a"))}
			return request(pullBase, "Bearer "+f.mint(c), "")
		}, status: 401, code: "invalid_token", reason: "sender_constraint"},
		{name: "forwarded cert from untrusted peer", opts: options{trusted: []string{"10.0.0.0/8"}}, build: func(f *fixture) *http.Request {
			cert := selfSigned(f.t, "a")
			c := f.auth.Claims("user-1", f.clock.Now())
			c["cnf"] = map[string]any{"x5t#S256": dpop.CertThumbprint(cert)}
			r := request(pullBase, "Bearer "+f.mint(c), "")
			r.RemoteAddr = "192.0.2.7:4000"
			r.Header.Set("Client-Cert", ":"+base64.StdEncoding.EncodeToString(cert.Raw)+":")
			return r
		}, status: 401, code: "invalid_token", reason: "sender_constraint"},
		{name: "alg none", build: func(f *fixture) *http.Request {
			hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"` + f.firstKid() + `"}`))
			body, _ := json.Marshal(f.claims())
			tok := hdr + "." + base64.RawURLEncoding.EncodeToString(body) + ".AAAA"
			return request(pullBase, "DPoP "+tok, f.proof(tok))
		}, status: 401, code: "invalid_token", reason: "invalid_token"},
		{name: "HS256 keyed with the public key", build: func(f *fixture) *http.Request {
			hdr := jws.NewHeaders()
			_ = hdr.Set(jws.KeyIDKey, f.firstKid())
			payload, _ := json.Marshal(f.claims())
			out, err := jws.Sign(payload, jws.WithKey(jwa.HS256, []byte(f.firstKid()), jws.WithProtectedHeaders(hdr)))
			if err != nil {
				f.t.Fatal(err)
			}
			return request(pullBase, "DPoP "+string(out), f.proof(string(out)))
		}, status: 401, code: "invalid_token", reason: "invalid_token"},
		{name: "signed by an unpublished key", build: func(f *fixture) *http.Request {
			k := authoritytest.NewKey(f.t)
			tok := authoritytest.Sign(f.t, k, jwa.ES256, f.claims())
			return request(pullBase, "DPoP "+tok, f.proof(tok))
		}, status: 401, code: "invalid_token", reason: "invalid_token"},
		{name: "tampered payload", build: func(f *fixture) *http.Request {
			tok := f.mint(f.claims())
			parts := strings.Split(tok, ".")
			c := f.claims()
			c["stellaops:plan"] = "enterprise"
			body, _ := json.Marshal(c)
			tok = parts[0] + "." + base64.RawURLEncoding.EncodeToString(body) + "." + parts[2]
			return request(pullBase, "DPoP "+tok, f.proof(tok))
		}, status: 401, code: "invalid_token", reason: "invalid_token"},
	}
}

func (f *fixture) firstKid() string {
	tok := f.mint(f.claims())
	msg, err := jws.Parse([]byte(tok))
	if err != nil {
		f.t.Fatal(err)
	}
	return msg.Signatures()[0].ProtectedHeaders().KeyID()
}

func TestRejections(t *testing.T) {
	for _, tc := range append(rejections(), outages()...) {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.opts)
			rec := f.do(tc.build(f))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			p := problem(t, rec)
			if p["error"] != tc.code {
				t.Fatalf("error %v, want %s: %s", p["error"], tc.code, rec.Body)
			}
			if errs, ok := p["errors"].([]any); !ok || len(errs) != 1 {
				t.Fatalf("registry errors array missing: %s", rec.Body)
			}
			if tc.status == http.StatusUnauthorized {
				ch := strings.Join(rec.Header().Values("WWW-Authenticate"), "\n")
				if !strings.HasPrefix(ch, "DPoP ") || !strings.Contains(ch, `algs="ES256 EdDSA Ed25519"`) || !strings.Contains(ch, "Bearer") {
					t.Fatalf("WWW-Authenticate %q", ch)
				}
				if tc.reason != "missing_token" && !strings.Contains(ch, `error="`+tc.code+`"`) {
					t.Fatalf("WWW-Authenticate %q lacks error %s", ch, tc.code)
				}
			}
			found := false
			for _, e := range f.logs.FilterMessage("token denied").All() {
				if e.ContextMap()["reason"] == tc.reason {
					found = true
				}
			}
			if !found {
				t.Fatalf("no decision line with reason %s", tc.reason)
			}
			if got := counter(t, f, "registry_token_rejected_total", tc.reason); got != 1 {
				t.Fatalf("registry_token_rejected_total{reason=%q} = %v", tc.reason, got)
			}
		})
	}
}
