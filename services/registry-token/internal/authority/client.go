// Package authority fetches the Authority's signing keys (OIDC discovery,
// then the JWKS, cached and refreshed) and validates OpToks: signature,
// issuer, audience, lifetime, required scopes and the sender-constraint
// confirmation (cnf) they carry.
package authority

import (
	"context"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/stellaops/authgate/pkg/jwks"
)

// Config configures a Client.
type Config struct {
	Issuer               string
	MetadataURL          string
	RequireHTTPSMetadata bool
	Audiences            []string
	RequiredScopes       []string
	ClockSkew            time.Duration
	// MaxTokenLifetime, when positive, refuses OpToks whose exp - iat is
	// longer (ErrLifetime); such OpToks must then carry iat.
	MaxTokenLifetime time.Duration
	// RequireAccessTokenType refuses OpToks whose JWS header typ is not
	// at+jwt (RFC 9068 §4, ErrTokenType).
	RequireAccessTokenType bool
	// RefreshInterval: periodic JWKS refresh.
	RefreshInterval time.Duration
	// MinRefreshGap: at most one refresh triggered by an unknown kid per gap.
	MinRefreshGap time.Duration
	// RetryInterval: delay between failed fetches while no keys are held.
	RetryInterval time.Duration
	// MaxStale: keys not refreshed successfully for longer than this are
	// dropped (0: kept until replaced). Without keys no OpTok verifies and
	// the client is not ready.
	MaxStale time.Duration
	// CacheSize bounds the verified-OpTok cache (0 disables it).
	CacheSize  int
	HTTPClient *http.Client
	Logger     *zap.Logger
	Now        func() time.Time
}

// Client holds the Authority's keys (pkg/jwks, shared with flex-auth) and
// validates OpToks. Safe for concurrent use.
type Client struct {
	cfg   Config
	keys  *jwks.Cache
	cache *tokenCache
}

// New returns a client that has no keys yet; call Run or Refresh.
func New(cfg Config) *Client {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	keys := jwks.New(jwks.Config{
		Issuer: cfg.Issuer, MetadataURL: cfg.MetadataURL, RequireHTTPSMetadata: cfg.RequireHTTPSMetadata,
		RefreshInterval: cfg.RefreshInterval, MinRefreshGap: cfg.MinRefreshGap, RetryInterval: cfg.RetryInterval,
		MaxStale: cfg.MaxStale, HTTPClient: cfg.HTTPClient, Logger: cfg.Logger, Now: cfg.Now,
	})
	return &Client{cfg: cfg, keys: keys, cache: newTokenCache(cfg.CacheSize, cfg.ClockSkew)}
}

// Ready reports whether keys are held: a JWKS was fetched, and not
// longer than MaxStale ago.
func (c *Client) Ready() bool { return c.keys.Ready() }

// Run fetches the keys (retrying until the first success), then refreshes
// them every RefreshInterval until ctx is done. A failed refresh keeps the
// previous keys, for at most MaxStale after the last success.
func (c *Client) Run(ctx context.Context) { c.keys.Run(ctx) }

// Refresh runs discovery (once successful, the jwks_uri is kept) and
// fetches the JWKS.
func (c *Client) Refresh(ctx context.Context) error { return c.keys.Refresh(ctx) }
