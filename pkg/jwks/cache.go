// Package jwks holds an OAuth Authority's signing keys for both services:
// OIDC discovery, then the JWKS (discovery asked again when it fails, so a
// moved jwks_uri is followed), refreshed periodically, dropped when no
// refresh has succeeded for a maximum staleness, and refreshed early for an
// unknown key id at most once per interval (one fetch in flight at a time,
// whatever the outcome of the previous one; a lookup waits for it a
// bounded time, and a kid found unknown is refused at once for a while).
// Verify checks a compact JWS signed by one of those keys.
package jwks

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

// Defaults of Config.
const (
	DefaultRefreshInterval = 10 * time.Minute
	DefaultMinRefreshGap   = 10 * time.Second
	DefaultRetryInterval   = 2 * time.Second
	DefaultMaxStale        = 24 * time.Hour
	DefaultFetchTimeout    = 10 * time.Second
	DefaultUnknownKidWait  = time.Second
	DefaultUnknownKidTTL   = 10 * time.Second
	// maxUnknownKids bounds the negative cache (random kids cannot grow it).
	maxUnknownKids = 4096
)

// Errors. None wraps anything that came from a token.
var (
	ErrNotReady   = errors.New("authority keys not loaded")
	ErrMalformed  = errors.New("token is not a well-formed JWS")
	ErrAlgorithm  = errors.New("token algorithm not allowed")
	ErrUnknownKey = errors.New("token signed by an unknown key")
	ErrSignature  = errors.New("token signature invalid")
)

// Config configures a Cache.
type Config struct {
	Issuer               string // discovery must name exactly this issuer
	MetadataURL          string // OIDC discovery document
	RequireHTTPSMetadata bool
	// RefreshInterval: periodic refresh by Run.
	RefreshInterval time.Duration
	// MinRefreshGap: at most one fetch attempt for unknown key ids per gap,
	// counted from the start and from the end of the previous attempt
	// whether it succeeded or not (a fetch that hangs until FetchTimeout is
	// not followed at once by another).
	MinRefreshGap time.Duration
	// UnknownKidWait bounds how long a lookup of an unknown kid waits for
	// the fetch it started or joined; then the kid is refused
	// (ErrUnknownKey) while the fetch goes on for the others.
	UnknownKidWait time.Duration
	// UnknownKidTTL: a kid that the keys did not hold after a lookup's
	// refresh (or its wait) is refused at once for this long, without
	// waiting on a fetch again. A refresh that publishes it ends that.
	UnknownKidTTL time.Duration
	// RetryInterval: delay between failed fetches in Run while no keys are held.
	RetryInterval time.Duration
	// MaxStale: keys not refreshed successfully for longer are dropped
	// (0: kept until replaced).
	MaxStale time.Duration
	// FetchTimeout bounds one discovery + JWKS fetch.
	FetchTimeout time.Duration
	HTTPClient   *http.Client
	Logger       *zap.Logger
	Now          func() time.Time
}

// Cache holds the Authority's keys. Safe for concurrent use.
type Cache struct {
	cfg    Config
	keys   atomic.Pointer[jwk.Set]
	loaded atomic.Int64 // UnixNano of the last successful fetch
	// Fetches counts fetch attempts (discovery + JWKS), for tests and logs.
	fetches atomic.Int64

	mu          sync.Mutex
	lastAttempt time.Time // guarded by mu
	inflight    *flight   // guarded by mu
	jwksURI     string    // guarded by mu

	unknownMu sync.Mutex
	unknown   map[string]time.Time // kid -> refused until; guarded by unknownMu
}

// flight is one fetch in progress; waiters share its outcome.
type flight struct {
	done chan struct{}
	err  error
}

// New returns a cache that holds no keys yet; call Refresh or Run.
func New(cfg Config) *Cache {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = DefaultRefreshInterval
	}
	if cfg.MinRefreshGap <= 0 {
		cfg.MinRefreshGap = DefaultMinRefreshGap
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = DefaultRetryInterval
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = DefaultFetchTimeout
	}
	if cfg.UnknownKidWait <= 0 {
		cfg.UnknownKidWait = DefaultUnknownKidWait
	}
	if cfg.UnknownKidTTL <= 0 {
		cfg.UnknownKidTTL = DefaultUnknownKidTTL
	}
	return &Cache{cfg: cfg, unknown: map[string]time.Time{}}
}

// Fetches returns the number of fetch attempts made so far.
func (c *Cache) Fetches() int64 { return c.fetches.Load() }

// Ready reports whether keys are held (fetched, and not longer than
// MaxStale ago).
func (c *Cache) Ready() bool { return c.current() != nil }

// current returns the keys, or nil when none were fetched or the last
// successful fetch is older than MaxStale (the keys are then dropped).
func (c *Cache) current() *jwk.Set {
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
		c.cfg.Logger.Error("authority keys dropped: no successful refresh within the maximum staleness; tokens are refused until the Authority answers",
			zap.Time("last_refresh", last), zap.Duration("max_stale", c.cfg.MaxStale))
	}
	return nil
}

// Run refreshes the keys every RefreshInterval until ctx is done (every
// RetryInterval while none are held; a failed refresh keeps the previous
// keys, for at most MaxStale after the last success). It does not fetch at
// once when keys are already held.
func (c *Cache) Run(ctx context.Context) {
	wait := time.Duration(0)
	if c.Ready() {
		wait = c.cfg.RefreshInterval
	}
	for {
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		wait = c.cfg.RefreshInterval
		if err := c.Refresh(ctx); err != nil {
			c.cfg.Logger.Warn("authority keys refresh failed", zap.Error(err))
			wait = c.retryWait(wait)
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// retryWait is the wait after a failed refresh: RetryInterval while no
// keys are held, else the refresh interval, cut short so that a retry
// comes soon after the keys would be dropped.
func (c *Cache) retryWait(wait time.Duration) time.Duration {
	if !c.Ready() {
		return c.cfg.RetryInterval
	}
	if c.cfg.MaxStale > 0 {
		left := time.Unix(0, c.loaded.Load()).Add(c.cfg.MaxStale).Sub(c.cfg.Now())
		wait = min(wait, max(left, c.cfg.RetryInterval))
	}
	return wait
}

// Refresh fetches the keys now (sharing a fetch already in flight).
func (c *Cache) Refresh(ctx context.Context) error {
	return c.refresh(ctx, false)
}

// refresh starts a fetch, or joins the one in flight. With limited, no
// fetch starts within MinRefreshGap of the previous attempt.
func (c *Cache) refresh(ctx context.Context, limited bool) error {
	c.mu.Lock()
	f := c.inflight
	if f == nil {
		now := c.cfg.Now()
		if limited && !c.lastAttempt.IsZero() && now.Sub(c.lastAttempt) < c.cfg.MinRefreshGap {
			c.mu.Unlock()
			return errRateLimited
		}
		c.lastAttempt = now
		f = &flight{done: make(chan struct{})}
		c.inflight = f
		uri := c.jwksURI
		c.mu.Unlock()
		// The fetch outlives the caller that started it: others wait on it.
		go c.fetch(f, uri) //nolint:gosec // detached on purpose: the fetch has its own timeout and serves every waiter
	} else {
		c.mu.Unlock()
	}
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

var errRateLimited = errors.New("jwks refresh rate-limited")

func (c *Cache) fetch(f *flight, uri string) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.FetchTimeout)
	defer cancel()
	c.fetches.Add(1)
	f.err = c.load(ctx, uri)
	c.mu.Lock()
	c.inflight = nil
	// The gap also runs from the end: a fetch that hung until its timeout
	// is not followed at once by another.
	c.lastAttempt = c.cfg.Now()
	c.mu.Unlock()
	close(f.done)
}

// load fetches the JWKS from uri, the jwks_uri of an earlier discovery
// ("" discovers it first). When that JWKS cannot be fetched, discovery is
// asked again, and a jwks_uri that moved is fetched and kept (an Authority
// that moves its keys is followed without a restart).
func (c *Cache) load(ctx context.Context, uri string) error {
	known := uri != ""
	if !known {
		var err error
		if uri, err = c.discover(ctx); err != nil {
			return err
		}
		c.setJWKSURI(uri)
	}
	body, err := c.get(ctx, uri)
	if err != nil && known {
		if moved, derr := c.discover(ctx); derr == nil && moved != uri {
			c.cfg.Logger.Info("authority jwks_uri moved", zap.String("from", uri), zap.String("to", moved))
			c.setJWKSURI(moved)
			body, err = c.get(ctx, moved)
		}
	}
	if err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	set, dropped, err := parseSet(body)
	if err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	for _, d := range dropped {
		c.cfg.Logger.Warn("authority key ignored", zap.String("kid", d.kid), zap.String("reason", d.reason))
	}
	if prev := c.keys.Load(); prev != nil {
		set = keepUnchanged(*prev, set)
	}
	c.loaded.Store(c.cfg.Now().UnixNano())
	if prev := c.keys.Swap(&set); prev == nil {
		c.cfg.Logger.Info("authority keys loaded", zap.Int("keys", set.Len()))
	}
	return nil
}

func (c *Cache) setJWKSURI(uri string) {
	c.mu.Lock()
	c.jwksURI = uri
	c.mu.Unlock()
}

type discovery struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

func (c *Cache) discover(ctx context.Context) (string, error) {
	body, err := c.get(ctx, c.cfg.MetadataURL)
	if err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	var d discovery
	if err := json.Unmarshal(body, &d); err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	if d.Issuer != c.cfg.Issuer {
		return "", fmt.Errorf("discovery: issuer %q does not match the configured issuer %q", d.Issuer, c.cfg.Issuer)
	}
	if d.JWKSURI == "" {
		return "", errors.New("discovery: no jwks_uri")
	}
	if err := CheckURL(d.JWKSURI, c.cfg.RequireHTTPSMetadata); err != nil {
		return "", fmt.Errorf("discovery: jwks_uri: %w", err)
	}
	return d.JWKSURI, nil
}

// CheckURL reports whether raw is an absolute http(s) URL, https when
// requireHTTPS.
func CheckURL(raw string, requireHTTPS bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	if requireHTTPS && u.Scheme != "https" {
		return fmt.Errorf("%q is not https (requireHttpsMetadata: false only for development)", raw)
	}
	return nil
}

func (c *Cache) get(ctx context.Context, raw string) ([]byte, error) {
	if err := CheckURL(raw, c.cfg.RequireHTTPSMetadata); err != nil {
		return nil, err
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

// Key returns the key with that kid. On a miss it refreshes the keys, at
// most one attempt per MinRefreshGap; concurrent misses share one fetch,
// each waiting at most UnknownKidWait for it. A kid still unknown after
// that is refused at once for UnknownKidTTL (unless a refresh publishes
// it meanwhile).
func (c *Cache) Key(ctx context.Context, kid string) (jwk.Key, error) {
	set := c.current()
	if set == nil {
		return nil, ErrNotReady
	}
	if k, ok := (*set).LookupKeyID(kid); ok {
		return k, nil
	}
	if c.knownUnknown(kid) {
		return nil, ErrUnknownKey
	}
	wctx, cancel := context.WithTimeout(ctx, c.cfg.UnknownKidWait)
	err := c.refresh(wctx, true)
	cancel()
	switch {
	case err == nil, errors.Is(err, errRateLimited):
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, context.DeadlineExceeded):
		// The wait ended, not the fetch: it goes on for the others.
	default:
		c.cfg.Logger.Warn("authority keys refresh on unknown kid failed", zap.Error(err))
	}
	cur := c.current()
	if cur == nil {
		return nil, ErrNotReady
	}
	if k, ok := (*cur).LookupKeyID(kid); ok {
		return k, nil
	}
	c.rememberUnknown(kid)
	return nil, ErrUnknownKey
}

// knownUnknown reports whether kid was refused as unknown less than
// UnknownKidTTL ago.
func (c *Cache) knownUnknown(kid string) bool {
	c.unknownMu.Lock()
	defer c.unknownMu.Unlock()
	until, ok := c.unknown[kid]
	if ok && !c.cfg.Now().Before(until) {
		delete(c.unknown, kid)
		return false
	}
	return ok
}

// rememberUnknown refuses kid at once for UnknownKidTTL. At
// maxUnknownKids entries the expired ones go, and if none has, all.
func (c *Cache) rememberUnknown(kid string) {
	now := c.cfg.Now()
	c.unknownMu.Lock()
	defer c.unknownMu.Unlock()
	if len(c.unknown) >= maxUnknownKids {
		for k, until := range c.unknown {
			if !now.Before(until) {
				delete(c.unknown, k)
			}
		}
		if len(c.unknown) >= maxUnknownKids {
			clear(c.unknown)
		}
	}
	c.unknown[kid] = now.Add(c.cfg.UnknownKidTTL)
}

// Holds reports whether the current keys hold key under kid: the same key
// a Verify returned, not only its kid. A refresh that publishes the same
// key material keeps the key (see keepUnchanged); one that withdraws the
// key, or publishes other material under its kid, ends Holds.
func (c *Cache) Holds(kid string, key jwk.Key) bool {
	set := c.current()
	if set == nil || key == nil {
		return false
	}
	k, ok := (*set).LookupKeyID(kid)
	return ok && k == key
}

// Published reports whether the current keys hold kid.
func (c *Cache) Published(kid string) bool {
	set := c.current()
	if set == nil {
		return false
	}
	_, ok := (*set).LookupKeyID(kid)
	return ok
}
