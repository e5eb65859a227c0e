package dpop

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

func TestVerifyAcceptsEveryAlgorithm(t *testing.T) {
	for _, tc := range []struct{ key, alg string }{
		{"A", "ES256"}, {"P384", "ES384"}, {"P521", "ES512"}, {"Ed25519", "EdDSA"},
		{"RSA", "RS256"}, {"RSA", "RS384"}, {"RSA", "RS512"},
		{"RSA", "PS256"}, {"RSA", "PS384"}, {"RSA", "PS512"},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			k := key(tc.key)
			f := newFixture(t, func(c *Config) { c.Algorithms = []string{tc.alg} })
			// Signed by jwx (NewProof): interoperability with a JOSE library.
			proof, err := NewProof(k.key, tc.alg, "POST", testHTU+"?a=b#frag", testToken, "", testNow)
			if err != nil {
				t.Fatal(err)
			}
			r := request(proof)
			r.Method, r.TokenJKT = "POST", k.jkt
			p, err := f.v.Verify(context.Background(), r)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.JKT != k.jkt || p.Algorithm != tc.alg || p.HTM != "POST" || p.HTU != testHTU || !p.IssuedAt.Equal(testNow) || p.JTI == "" {
				t.Errorf("unexpected proof %+v", p)
			}
			pk, err := p.JWK()
			if err != nil {
				t.Fatal(err)
			}
			if got, err := Thumbprint(pk); err != nil || got != k.jkt {
				t.Errorf("Thumbprint(p.JWK()) = %q, %v; want %q", got, err, k.jkt)
			}
			if ok, _ := jwk.IsPrivateKey(pk); ok {
				t.Error("Proof.Key is a private key")
			}
		})
	}
}

func TestVerifyWithoutAccessToken(t *testing.T) {
	// Token endpoint style: a proof without ath and no token.
	f := newFixture(t, nil)
	proof := makeProof(t, func(p *proofSpec) { delete(p.claims, "ath") })
	p, err := f.v.Verify(context.Background(), Request{Method: "GET", Path: "/token", ProofHeaders: []string{proof}})
	if err != nil {
		t.Fatal(err)
	}
	if p.JKT != key("A").jkt {
		t.Errorf("JKT = %q", p.JKT)
	}
}

func TestVerifyNormalizesHTU(t *testing.T) {
	for _, tc := range []struct{ base, path, htu string }{
		{testBaseURL, "/token", "HTTPS://RT.Example.COM:443/token"},
		{testBaseURL, "/token", "https://rt.example.com/%74oken"},
		{testBaseURL, "/token", "https://rt.example.com/a/../token"},
		{testBaseURL, "/token", "https://rt.example.com/./token?x=1#y"},
		{testBaseURL, "/v2/a%2fb", "https://rt.example.com/v2/a%2Fb"},
		{testBaseURL + "/", "/token", testHTU},
		{"https://example.com/auth", "/token", "https://example.com/auth/token"},
		{"https://example.com/auth/", "/token", "https://example.com/auth/token"},
		{"http://127.0.0.1:8085", "/token", "http://127.0.0.1:8085/token"},
		{"https://[2001:DB8::1]:8443", "/", "https://[2001:db8:0:0::1]:8443"},
	} {
		t.Run(tc.htu, func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.PublicBaseURL = tc.base })
			proof := makeProof(t, func(p *proofSpec) { p.claims["htu"] = tc.htu })
			r := request(proof)
			r.Path = tc.path
			if _, err := f.v.Verify(context.Background(), r); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func TestVerifyFractionalAndExponentIAT(t *testing.T) {
	for _, iat := range []string{"1700000000.5", "1.7e9", "1699999990.25"} {
		t.Run(iat, func(t *testing.T) {
			f := newFixture(t, nil)
			proof := makeProof(t, func(p *proofSpec) {
				p.rawClaims = `{"jti":"` + randomJTI() + `","htm":"GET","htu":"` + testHTU + `","iat":` + iat + `,"ath":"` + athOf(testToken) + `"}`
			})
			if _, err := f.v.Verify(context.Background(), request(proof)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	cases := negativeCases()
	if len(cases) < 50 {
		t.Fatalf("only %d negative cases", len(cases))
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate case %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.cfg)
			var proof string
			if tc.raw != nil {
				proof = tc.raw(t)
			} else {
				proof = makeProof(t, tc.proof)
			}
			r := request(proof)
			if tc.req != nil {
				tc.req(&r)
			}
			p, err := f.v.Verify(context.Background(), r)
			if err == nil {
				t.Fatalf("Verify accepted the proof: %+v", p)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error = %v, want %s", err, tc.want.Code)
			}
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(e.Description, tc.desc) {
				t.Fatalf("description = %q, want it to contain %q", e.Description, tc.desc)
			}
			if f.cache.Len() != 0 {
				t.Errorf("a rejected proof was recorded in the replay cache")
			}
		})
	}
}

// TestVerifyControl proves the default proof and request of the negative
// cases are valid, so each negative case fails for its own reason.
func TestVerifyControl(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.v.Verify(context.Background(), request(makeProof(t, nil))); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyIgnoresHostAndForwardedHeaders(t *testing.T) {
	spoofed := []struct{ name, htu string }{
		{"Host", "https://evil.example/token"},
		{"X-Forwarded-Host", "https://forwarded.example/token"},
		{"X-Forwarded-Proto", "http://rt.example.com/token"},
		{"X-Forwarded-Port", "https://rt.example.com:8443/token"},
		{"X-Forwarded-Prefix", "https://rt.example.com/prefix/token"},
		{"X-Original-URL", "https://rt.example.com/admin"},
	}
	newReq := func(proof string) *http.Request {
		r := httptest.NewRequest("GET", "http://evil.example/token?service=x", nil)
		r.Host = "evil.example"
		r.Header.Set("X-Forwarded-Host", "forwarded.example")
		r.Header.Set("X-Forwarded-Proto", "http")
		r.Header.Set("X-Forwarded-Port", "8443")
		r.Header.Set("X-Forwarded-Prefix", "/prefix")
		r.Header.Set("X-Original-URL", "/admin")
		r.Header.Set(HeaderDPoP, proof)
		return r
	}
	for _, s := range spoofed {
		t.Run(s.name, func(t *testing.T) {
			f := newFixture(t, nil)
			proof := makeProof(t, func(p *proofSpec) { p.claims["htu"] = s.htu })
			r := FromHTTP(newReq(proof))
			r.AccessToken, r.TokenJKT = testToken, key("A").jkt
			if _, err := f.v.Verify(context.Background(), r); !errors.Is(err, ErrInvalidDPoPProof) {
				t.Fatalf("proof for %s accepted or wrong error: %v", s.htu, err)
			}
		})
	}
	t.Run("configured URL still accepted", func(t *testing.T) {
		f := newFixture(t, nil)
		r := FromHTTP(newReq(makeProof(t, nil)))
		r.AccessToken, r.TokenJKT = testToken, key("A").jkt
		if _, err := f.v.Verify(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	})
}

func TestFromHTTPKeepsEscapedPath(t *testing.T) {
	r := httptest.NewRequest("GET", "https://rt.example.com/v2/a%2Fb/x?y=1", nil)
	r.Header.Add(HeaderDPoP, "one")
	r.Header.Add("Dpop", "two")
	got := FromHTTP(r)
	if got.Path != "/v2/a%2Fb/x" || got.Method != "GET" || len(got.ProofHeaders) != 2 {
		t.Fatalf("FromHTTP = %+v", got)
	}
}

func TestVerifyTokenJKTWithoutToken(t *testing.T) {
	f := newFixture(t, nil)
	r := request(makeProof(t, nil))
	r.AccessToken = ""
	_, err := f.v.Verify(context.Background(), r)
	var e *Error
	if err == nil || errors.As(err, &e) {
		t.Fatalf("want a programming error, got %v", err)
	}
}

func TestNewVerifierConfig(t *testing.T) {
	cache := NewMemoryReplayCache(context.Background(), MemoryOptions{})
	t.Cleanup(func() { _ = cache.Close() })
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{PublicBaseURL: testBaseURL, Replay: cache}, true},
		{"base with path prefix", Config{PublicBaseURL: "https://example.com/auth", Replay: cache}, true},
		{"no base URL", Config{Replay: cache}, false},
		{"relative base URL", Config{PublicBaseURL: "/token", Replay: cache}, false},
		{"base URL with query", Config{PublicBaseURL: testBaseURL + "?a=b", Replay: cache}, false},
		{"base URL with userinfo", Config{PublicBaseURL: "https://u:p@rt.example.com", Replay: cache}, false},
		{"ftp base URL", Config{PublicBaseURL: "ftp://rt.example.com", Replay: cache}, false},
		{"no replay cache", Config{PublicBaseURL: testBaseURL}, false},
		{"alg none", Config{PublicBaseURL: testBaseURL, Replay: cache, Algorithms: []string{"none"}}, false},
		{"alg HS256", Config{PublicBaseURL: testBaseURL, Replay: cache, Algorithms: []string{"ES256", "HS256"}}, false},
		{"negative skew", Config{PublicBaseURL: testBaseURL, Replay: cache, ClockSkew: -time.Second}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := NewVerifier(tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("NewVerifier err = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && strings.Join(v.Algorithms(), " ") != "ES256 EdDSA PS256 RS256 Ed25519" {
				t.Errorf("Algorithms() = %v", v.Algorithms())
			}
		})
	}
	// Every problem is reported at once.
	_, err := NewVerifier(Config{Algorithms: []string{"none"}})
	for _, want := range []string{"PublicBaseURL", "none", "ReplayCache"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
}
