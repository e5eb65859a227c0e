package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/stellaops/authgate/pkg/plans"
)

// Plans of the end-to-end fixture.
const (
	planEnterprise = "enterprise" // push and pull under stella-ops/*/*, catalog
	planCommunity  = "community"  // pull stella-ops/public/* only
	revokedLicense = "lic-revoked"
	requiredScope  = "registry.token.issue"
)

func fixturePlans() map[string][]plans.Rule {
	return map[string][]plans.Rule{
		planEnterprise: {
			{Repository: "stella-ops/*/*", Actions: []string{"pull", "push"}},
			{Catalog: true},
		},
		planCommunity: {
			{Repository: "stella-ops/public/*"},
		},
	}
}

// env is one running Authority + registry-token + registry.
type env struct {
	stack    *Stack
	registry string // host:port of the registry
	client   *http.Client
}

func newEnv(t *testing.T, tlsm *TLSMaterial) *env {
	t.Helper()
	return newEnvWith(t, StackOptions{TLS: tlsm})
}

// newEnvWith is newEnv with more of the stack's options (the fixture's
// plans and logs are set here).
func newEnvWith(t *testing.T, opts StackOptions) *env {
	t.Helper()
	tlsm := opts.TLS
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	logs := io.Discard
	if testing.Verbose() {
		logs = os.Stderr
	}
	opts.Dir, opts.Plans, opts.DefaultPlan, opts.RevokedLicenses, opts.Stderr = t.TempDir(), fixturePlans(), planCommunity, []string{revokedLicense}, logs
	s, err := StartStack(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("registry-token did not shut down cleanly: %v", err)
		}
	})
	return &env{stack: s, registry: startRegistry(t, s), client: s.HTTPClient(tlsm, nil)}
}

func newClientKey(t *testing.T) *ClientKey {
	t.Helper()
	k, err := NewClientKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// opTok mints a valid DPoP-bound OpTok for plan and licence.
func (e *env) opTok(t *testing.T, plan, license string, k *ClientKey) string {
	t.Helper()
	tok, err := e.stack.Authority.MintDPoP("user-"+plan, plan, license, k.JKT, []string{requiredScope}, []string{"registry"}, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// remoteOptions are go-containerregistry options whose transport presents
// tok with fresh proofs by k on realm requests.
func (e *env) remoteOptions(tok string, k *ClientKey) ([]remote.Option, *Transport) {
	tr := &Transport{Base: LoopbackTransport(nil, nil), Realm: e.stack.Realm, AccessToken: tok, Key: k.Key, Alg: k.Alg}
	return []remote.Option{remote.WithTransport(tr), remote.WithContext(context.Background())}, tr
}

func (e *env) ref(t *testing.T, repoAndTag string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(e.registry+"/"+repoAndTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tokenResponse is a decoded /token answer.
type tokenResponse struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any
}

// getToken calls GET /token with the given Authorization value and DPoP
// header values (none, one, or several).
func (e *env) getToken(t *testing.T, authz string, proofs []string, query url.Values) tokenResponse {
	t.Helper()
	return doToken(t, e.client, e.stack.Realm+"?"+query.Encode(), authz, proofs)
}

func doToken(t *testing.T, c *http.Client, u, authz string, proofs []string) tokenResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := tokenResponse{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

// proof signs a GET proof for the realm bound to tok.
func (e *env) proof(t *testing.T, k *ClientKey, tok string) string {
	t.Helper()
	p, err := k.Proof(http.MethodGet, e.stack.Realm, tok)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func scopeQuery(service string, scopes ...string) url.Values {
	q := url.Values{}
	if service != "" {
		q.Set("service", service)
	}
	for _, s := range scopes {
		q.Add("scope", s)
	}
	return q
}

// registryToken verifies a registry token against the JWKS the registry
// trusts and returns its claims.
func (e *env) registryToken(t *testing.T, tok string) jwt.Token {
	t.Helper()
	set, err := jwk.Parse(e.stack.JWKS)
	if err != nil {
		t.Fatalf("registry-token jwks output does not parse: %v", err)
	}
	parsed, err := jwt.ParseString(tok, jwt.WithKeySet(set), jwt.WithIssuer(SigningIssuer), jwt.WithAudience(e.stack.Service))
	if err != nil {
		t.Fatalf("registry token does not verify: %v", err)
	}
	return parsed
}

// wantStatus fails unless r has status want; for errors it also wants an
// RFC 9457 problem body with an error member.
func wantStatus(t *testing.T, r tokenResponse, want int) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d; body %s", r.Status, want, r.Raw)
	}
	if want >= 400 {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Errorf("error Content-Type %q, want application/problem+json", ct)
		}
		if _, ok := r.Body["error"].(string); !ok {
			t.Errorf("error body has no error member: %s", r.Raw)
		}
	}
	if want == http.StatusUnauthorized && r.Header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
}
