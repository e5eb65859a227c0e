// Package authority fetches the Authority's signing keys (OIDC discovery,
// then the JWKS, cached and refreshed) and validates OpToks: signature,
// issuer, audience, lifetime, required scopes and the sender-constraint
// confirmation (cnf) they carry.
package authority

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"go.uber.org/zap"
)

// maxDocument bounds the discovery and JWKS documents.
const maxDocument = 1 << 20

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

// Client holds the Authority's keys and validates OpToks. Safe for
// concurrent use.
type Client struct {
	cfg    Config
	keys   atomic.Pointer[jwk.Set]
	loaded atomic.Int64 // UnixNano of the last successful fetch
	cache  *tokenCache

	refreshMu   sync.Mutex
	lastRefresh time.Time // guarded by refreshMu
	jwksURI     string    // guarded by refreshMu
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
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = 2 * time.Second
	}
	return &Client{cfg: cfg, cache: newTokenCache(cfg.CacheSize)}
}

// Ready reports whether keys are held: a JWKS was fetched, and not
// longer than MaxStale ago.
func (c *Client) Ready() bool { return c.current() != nil }

// retryWait is the wait after a failed refresh: RetryInterval while no
// keys are held, else the refresh interval, cut short so that a retry
// comes soon after the keys would be dropped.
func (c *Client) retryWait(wait time.Duration) time.Duration {
	if !c.Ready() {
		return c.cfg.RetryInterval
	}
	if c.cfg.MaxStale > 0 {
		left := time.Unix(0, c.loaded.Load()).Add(c.cfg.MaxStale).Sub(c.cfg.Now())
		wait = min(wait, max(left, c.cfg.RetryInterval))
	}
	return wait
}

// current returns the keys, or nil when none were fetched or the last
// successful fetch is older than MaxStale (the keys are then dropped).
func (c *Client) current() *jwk.Set {
	set := c.keys.Load()
	if set == nil || c.cfg.MaxStale <= 0 {
		return set
	}
	last := time.Unix(0, c.loaded.Load())
	if c.cfg.Now().Sub(last) <= c.cfg.MaxStale {
		return set
	}
	// A refresh that succeeds meanwhile swaps the set, and this fails.
	if c.keys.CompareAndSwap(set, nil) {
		c.cfg.Logger.Error("authority keys dropped: no successful refresh within jwksMaxStale; OpToks are refused until the Authority answers",
			zap.Time("last_refresh", last), zap.Duration("max_stale", c.cfg.MaxStale))
	}
	return nil
}

// Run fetches the keys (retrying until the first success), then refreshes
// them every RefreshInterval until ctx is done. A failed refresh keeps the
// previous keys, for at most MaxStale after the last success.
func (c *Client) Run(ctx context.Context) {
	for {
		err := c.Refresh(ctx)
		wait := c.cfg.RefreshInterval
		if err != nil {
			c.cfg.Logger.Warn("authority keys refresh failed", zap.Error(err))
			wait = c.retryWait(wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Refresh runs discovery (once successful, the jwks_uri is kept) and
// fetches the JWKS.
func (c *Client) Refresh(ctx context.Context) error {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	return c.refreshLocked(ctx)
}

func (c *Client) refreshLocked(ctx context.Context) error {
	c.lastRefresh = c.cfg.Now()
	if c.jwksURI == "" {
		uri, err := c.discover(ctx)
		if err != nil {
			return err
		}
		c.jwksURI = uri
	}
	body, err := c.get(ctx, c.jwksURI)
	if err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	set, err := jwk.Parse(body)
	if err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	if set.Len() == 0 {
		return errors.New("jwks: no keys")
	}
	c.loaded.Store(c.cfg.Now().UnixNano())
	prev := c.keys.Swap(&set)
	if prev == nil {
		c.cfg.Logger.Info("authority keys loaded", zap.Int("keys", set.Len()))
	}
	return nil
}

type discovery struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

func (c *Client) discover(ctx context.Context) (string, error) {
	body, err := c.get(ctx, c.cfg.MetadataURL)
	if err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	var d discovery
	if err := json.Unmarshal(body, &d); err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	if d.Issuer != c.cfg.Issuer {
		return "", fmt.Errorf("discovery: issuer %q does not match authority.issuer %q", d.Issuer, c.cfg.Issuer)
	}
	if d.JWKSURI == "" {
		return "", errors.New("discovery: no jwks_uri")
	}
	return d.JWKSURI, nil
}

func (c *Client) get(ctx context.Context, raw string) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL", raw)
	}
	if c.cfg.RequireHTTPSMetadata && u.Scheme != "https" {
		return nil, fmt.Errorf("%q is not https (requireHttpsMetadata)", raw)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", raw, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxDocument {
		return nil, fmt.Errorf("GET %s: document larger than %d bytes", raw, maxDocument)
	}
	return body, nil
}

// key returns the Authority key with that kid. On a miss it refreshes the
// JWKS at most once per MinRefreshGap (concurrent misses share it).
func (c *Client) key(ctx context.Context, kid string) (jwk.Key, error) {
	set := c.current()
	if set == nil {
		return nil, ErrNotReady
	}
	if k, ok := (*set).LookupKeyID(kid); ok {
		return k, nil
	}
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	cur := c.current()
	if cur == nil {
		return nil, ErrNotReady
	}
	if cur != set {
		if k, ok := (*cur).LookupKeyID(kid); ok {
			return k, nil
		}
	}
	if c.cfg.Now().Sub(c.lastRefresh) < c.cfg.MinRefreshGap {
		return nil, ErrUnknownKey
	}
	if err := c.refreshLocked(ctx); err != nil {
		c.cfg.Logger.Warn("authority keys refresh on unknown kid failed", zap.Error(err))
		return nil, ErrUnknownKey
	}
	if k, ok := (*c.keys.Load()).LookupKeyID(kid); ok {
		return k, nil
	}
	return nil, ErrUnknownKey
}
