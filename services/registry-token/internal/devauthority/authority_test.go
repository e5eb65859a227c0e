package devauthority

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

var testNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func newTestAuthority(t *testing.T, opts Options) *Authority {
	t.Helper()
	if opts.Issuer == "" {
		opts.Issuer = "http://127.0.0.1:5001"
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// verifyNow parses tok against the published JWKS with the real clock.
func verifyNow(a *Authority, tok string) (jwt.Token, error) {
	set, err := jwk.Parse(a.JWKS())
	if err != nil {
		return nil, err
	}
	return jwt.ParseString(tok, jwt.WithKeySet(set))
}

// verify parses tok against the Authority's published JWKS.
func verify(t *testing.T, a *Authority, tok string) (jwt.Token, error) {
	t.Helper()
	set, err := jwk.Parse(a.JWKS())
	if err != nil {
		t.Fatalf("published JWKS does not parse: %v", err)
	}
	return jwt.ParseString(tok, jwt.WithKeySet(set), jwt.WithClock(jwt.ClockFunc(func() time.Time { return testNow })))
}

func TestNewRejectsBadIssuer(t *testing.T) {
	for _, iss := range []string{"", "127.0.0.1:5001", "ftp://x", "http://"} {
		if _, err := New(Options{Issuer: iss}); err == nil {
			t.Errorf("New(%q) accepted", iss)
		}
	}
}

func TestDiscoveryAndJWKS(t *testing.T) {
	a := newTestAuthority(t, Options{Issuer: "http://127.0.0.1:5001/"})
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, DiscoveryPath, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("discovery: %d", rec.Code)
	}
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"issuer":         "http://127.0.0.1:5001",
		"jwks_uri":       "http://127.0.0.1:5001/jwks.json",
		"token_endpoint": "http://127.0.0.1:5001/token",
	}
	for k, v := range want {
		if doc[k] != v {
			t.Errorf("%s = %v, want %s", k, doc[k], v)
		}
	}

	rec = httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, JWKSPath, nil))
	set, err := jwk.Parse(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 1 {
		t.Fatalf("JWKS holds %d keys", set.Len())
	}
	k, _ := set.Key(0)
	if isPriv, _ := jwk.IsPrivateKey(k); isPriv {
		t.Fatal("JWKS publishes a private key")
	}
	if k.KeyID() != a.KeyIDs()[0] || k.Algorithm().String() != "ES256" {
		t.Errorf("key kid=%q alg=%q", k.KeyID(), k.Algorithm())
	}

	rec = httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, JWKSPath, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST jwks: %d", rec.Code)
	}
}

func TestMintDPoPClaims(t *testing.T) {
	a := newTestAuthority(t, Options{})
	tok, err := a.MintDPoP("alice", "enterprise", "lic-1", "thumb", []string{"registry.token.issue", "x"}, []string{"registry"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := verify(t, a, tok)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Issuer() != a.Issuer() || parsed.Subject() != "alice" || !slices.Equal(parsed.Audience(), []string{"registry"}) {
		t.Errorf("iss=%q sub=%q aud=%v", parsed.Issuer(), parsed.Subject(), parsed.Audience())
	}
	if !parsed.Expiration().Equal(testNow.Add(time.Minute).Truncate(time.Second)) {
		t.Errorf("exp = %v", parsed.Expiration())
	}
	claims := parsed.PrivateClaims()
	if claims[ClaimPlan] != "enterprise" || claims[ClaimLicense] != "lic-1" || claims["scope"] != "registry.token.issue x" {
		t.Errorf("private claims = %v", claims)
	}
	cnf, _ := claims["cnf"].(map[string]any)
	if cnf["jkt"] != "thumb" || len(cnf) != 1 {
		t.Errorf("cnf = %v", cnf)
	}
}

func TestMintMTLSAndUnbound(t *testing.T) {
	a := newTestAuthority(t, Options{})
	tok, err := a.MintMTLS("bob", "", "", "x5t", nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := verify(t, a, tok)
	if err != nil {
		t.Fatal(err)
	}
	claims := parsed.PrivateClaims()
	cnf, _ := claims["cnf"].(map[string]any)
	if cnf["x5t#S256"] != "x5t" || len(cnf) != 1 {
		t.Errorf("cnf = %v", cnf)
	}
	for _, c := range []string{ClaimPlan, ClaimLicense, "scope"} {
		if _, ok := claims[c]; ok {
			t.Errorf("empty grant field produced claim %s", c)
		}
	}
	if !slices.Equal(parsed.Audience(), []string{DefaultAudience}) {
		t.Errorf("default aud = %v", parsed.Audience())
	}
	if !parsed.Expiration().Equal(testNow.Add(DefaultTTL)) {
		t.Errorf("default exp = %v", parsed.Expiration())
	}

	tok, err = a.Mint(Grant{Subject: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	parsed, err = verify(t, a, tok)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := parsed.PrivateClaims()["cnf"]; ok {
		t.Error("unbound grant produced a cnf claim")
	}
}

func TestMintOverrides(t *testing.T) {
	a := newTestAuthority(t, Options{})
	expired, err := a.MintDPoP("a", "", "", "j", nil, nil, -time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify(t, a, expired); err == nil {
		t.Error("negative TTL token verified as unexpired")
	}

	tok, err := a.MintDPoP("a", "", "", "j", nil, nil, time.Minute,
		WithClaim("aud", "elsewhere"), WithoutClaim("jti"), WithHeader("typ", "JWT"))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := verify(t, a, tok)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(parsed.Audience(), []string{"elsewhere"}) || parsed.JwtID() != "" {
		t.Errorf("aud=%v jti=%q", parsed.Audience(), parsed.JwtID())
	}

	foreign, err := a.MintDPoP("a", "", "", "j", nil, nil, time.Minute, WithUnpublishedKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify(t, a, foreign); err == nil {
		t.Error("token signed with an unpublished key verified")
	}

	badKid, err := a.MintDPoP("a", "", "", "j", nil, nil, time.Minute, WithHeader("kid", "nope"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify(t, a, badKid); err == nil {
		t.Error("token with an unknown kid verified")
	}
}

func TestRotate(t *testing.T) {
	a := newTestAuthority(t, Options{})
	first := a.KeyIDs()[0]
	old, err := a.Mint(Grant{Subject: "a"})
	if err != nil {
		t.Fatal(err)
	}
	kid, err := a.Rotate(false)
	if err != nil {
		t.Fatal(err)
	}
	if ids := a.KeyIDs(); !slices.Equal(ids, []string{first, kid}) || kid == first {
		t.Fatalf("after Rotate(false): %v (new %s)", ids, kid)
	}
	if _, err := verify(t, a, old); err != nil {
		t.Errorf("old token no longer verifies while its key is published: %v", err)
	}
	fresh, err := a.Mint(Grant{Subject: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify(t, a, fresh); err != nil {
		t.Fatal(err)
	}

	last, err := a.Rotate(true)
	if err != nil {
		t.Fatal(err)
	}
	if ids := a.KeyIDs(); !slices.Equal(ids, []string{last}) {
		t.Fatalf("after Rotate(true): %v", ids)
	}
	if _, err := verify(t, a, old); err == nil {
		t.Error("token signed with a removed key still verifies")
	}
}
