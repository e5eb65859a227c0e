package token_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/httpx"
	"github.com/stellaops/authgate/pkg/obs"
	"github.com/stellaops/authgate/pkg/plans"
	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
	"github.com/stellaops/authgate/pkg/testkit/certtest"
	"github.com/stellaops/authgate/services/registry-token/internal/authority"
	"github.com/stellaops/authgate/services/registry-token/internal/signing"
	"github.com/stellaops/authgate/services/registry-token/internal/token"
)

const (
	publicURL = "https://registry-token.test"
	service   = "registry.localhost"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	t         testing.TB
	clock     *clock
	auth      *authoritytest.Authority
	client    *authority.Client
	e         *echo.Echo
	key       *signing.Key
	clientKey jwk.Key // the caller's DPoP key
	jkt       string
	logs      *observer.ObservedLogs
	metrics   *obs.Metrics
	// validations counts the calls to the Authority client.
	validations *countingValidator
}

type options struct {
	requireNonce bool
	optional     bool
	trusted      []string
	plans        map[string][]plans.Rule // nil: community and enterprise below
	gate         token.Gate
	failOpen     bool
	// replay replaces the memory replay cache (nil: a memory cache with
	// replayEntries entries, default when 0).
	replay        func(ctx context.Context, now func() time.Time) dpop.ReplayCache
	authorityDown bool // the Authority's keys are never fetched
	// maxTokenLifetime is authority.maxTokenLifetime (0: no limit).
	maxTokenLifetime time.Duration
	// basicRealm is passed to NewMapper (client certificates reach the
	// service: 401s offer Basic).
	basicRealm string
	// logLevel is the lowest level logged (default debug; benchmarks use
	// warn, as the load runs do).
	logLevel zapcore.Level
}

// countingValidator counts the OpToks handed to the Authority client.
type countingValidator struct {
	token.Validator
	calls atomic.Int64
}

func (v *countingValidator) Validate(ctx context.Context, raw string) (*authority.OpTok, error) {
	v.calls.Add(1)
	return v.Validator.Validate(ctx, raw)
}

func newFixture(t testing.TB, o options) *fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	clk := &clock{t: time.Unix(1_750_000_000, 0)}
	auth := authoritytest.New(t)
	client := authority.New(authority.Config{
		Issuer: auth.Issuer, MetadataURL: auth.MetadataURL(),
		Audiences: []string{"registry"}, RequiredScopes: []string{"registry.token.issue"},
		ClockSkew: 30 * time.Second, RefreshInterval: time.Hour, MinRefreshGap: 10 * time.Second,
		CacheSize: 100, MaxTokenLifetime: o.maxTokenLifetime, Now: clk.Now,
	})
	if !o.authorityDown {
		if err := client.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := signing.NewKey(raw, "")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signing.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	rules := o.plans
	if rules == nil {
		rules = map[string][]plans.Rule{
			"community":  {{Repository: "stella-ops/public/*"}},
			"enterprise": {{Repository: "stella-ops/*/*", Actions: []string{"pull", "push"}}, {Catalog: true}},
		}
	}
	catalog, err := plans.NewCatalog(rules)
	if err != nil {
		t.Fatal(err)
	}
	var replay dpop.ReplayCache = dpop.NewMemoryReplayCache(ctx, dpop.MemoryOptions{Now: clk.Now})
	if o.replay != nil {
		replay = o.replay(ctx, clk.Now)
	}
	var nonces dpop.NonceSource
	if o.requireNonce {
		if nonces, err = dpop.NewHMACNonces([]byte(strings.Repeat("k", 32)), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	proofs, err := dpop.NewVerifier(dpop.Config{PublicBaseURL: publicURL, Algorithms: []string{"ES256", "EdDSA"},
		Replay: replay, Nonces: nonces, RequireNonce: o.requireNonce, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	proxies, err := dpop.ParseTrustedProxies(o.trusted, "")
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := obs.NewMetrics()
	if err != nil {
		t.Fatal(err)
	}
	level := zapcore.DebugLevel
	if o.logLevel != 0 {
		level = o.logLevel
	}
	core, logs := observer.New(level)
	log := zap.New(core)
	counting := &countingValidator{Validator: client}
	h, err := token.New(token.Deps{
		Logger: log, Meter: metrics.Meter("test"), Now: clk.Now, Authority: counting, Proofs: proofs,
		Proxies: proxies, Signer: signer, Catalog: catalog,
		Policy: token.Policy{Issuer: "registry-token", Lifetime: 5 * time.Minute, Services: []string{service},
			DefaultPlan: "community", RevokedLicenses: []string{"lic-revoked"}, RequireSenderConstraint: !o.optional,
			PolicyFailOpen: o.failOpen},
		Gate: o.gate,
	})
	if err != nil {
		t.Fatal(err)
	}
	e := httpx.New(httpx.Options{Logger: log, Mapper: token.NewMapper(proofs.Algorithms(), o.basicRealm), Metrics: metrics.Handler(), Now: clk.Now})
	h.Register(e)
	ck := authoritytest.NewKey(t)
	jkt, err := dpop.Thumbprint(ck)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, clock: clk, auth: auth, client: client, e: e, key: key, clientKey: ck, jkt: jkt, logs: logs, metrics: metrics, validations: counting}
}

// claims returns valid DPoP-bound OpTok claims.
func (f *fixture) claims() map[string]any {
	c := f.auth.Claims("user-1", f.clock.Now())
	c["cnf"] = map[string]any{"jkt": f.jkt}
	return c
}

func (f *fixture) mint(c map[string]any) string { return f.auth.Mint(f.t, c) }

// proof signs a proof with the caller's key for GET publicURL/token.
func (f *fixture) proof(tok string) string {
	return f.proofWith(f.clientKey, publicURL+"/token", tok, "")
}

func (f *fixture) proofWith(k jwk.Key, htu, tok, nonce string) string {
	return f.methodProof(k, http.MethodGet, htu, tok, nonce)
}

// postProof signs a proof with the caller's key for method publicURL/token.
func (f *fixture) postProof(method, tok string) string {
	return f.methodProof(f.clientKey, method, publicURL+"/token", tok, "")
}

func (f *fixture) methodProof(k jwk.Key, method, htu, tok, nonce string) string {
	p, err := dpop.NewProof(k, "ES256", method, htu, tok, nonce, f.clock.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// request builds GET /token with the query, Authorization and DPoP headers.
func request(query, authz, proof string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/token?"+query, nil)
	if authz != "" {
		r.Header.Set("Authorization", authz)
	}
	if proof != "" {
		r.Header.Set("DPoP", proof)
	}
	return r
}

func (f *fixture) do(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	f.e.ServeHTTP(rec, r)
	return rec
}

// problem decodes a problem body.
func problem(t testing.TB, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != httpx.ProblemContentType {
		t.Fatalf("content type %q, body %s", ct, rec.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// selfSigned returns a client certificate.
func selfSigned(t testing.TB, cn string) *x509.Certificate {
	t.Helper()
	return certtest.SelfSigned(t, cn, 1).X509
}

// signingKey is the Authority's current private key.
func (f *fixture) signingKey() jwk.Key { return f.auth.Current() }

func fmtAny(v any) string { return fmt.Sprint(v) }
