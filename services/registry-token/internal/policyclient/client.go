// Package policyclient asks flex-auth (POST /v1/check) whether an access
// the plan grants is also allowed by policy. It knows nothing of tokens or
// HTTP handlers: it sends checks, returns decisions, and classifies every
// failure as one of three outage kinds (unavailable, timeout, invalid
// response) so that the caller can deny with a distinct reason.
package policyclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Defaults and limits.
const (
	// DefaultTimeout bounds all the checks of one token request together.
	DefaultTimeout = 2 * time.Second
	// DefaultConcurrency bounds the checks of one request in flight at once.
	DefaultConcurrency = 8
	// MaxResponseBytes caps how much of a flex-auth answer is read.
	MaxResponseBytes = 64 << 10
	// CheckPath is flex-auth's decision endpoint.
	CheckPath = "/v1/check"
)

// The effects flex-auth answers.
const (
	EffectAllow = "allow"
	EffectDeny  = "deny"
)

// The outage kinds. Every error of Check and CheckAll matches exactly one
// of them with errors.Is.
var (
	// ErrUnavailable: flex-auth could not be reached (connection refused,
	// DNS failure, connection reset) or no trusted connection could be
	// established (TLS handshake failure, a server certificate that does
	// not verify against the roots).
	ErrUnavailable = errors.New("policyclient: flex-auth unavailable")
	// ErrTimeout: no answer before the deadline.
	ErrTimeout = errors.New("policyclient: flex-auth timed out")
	// ErrInvalidResponse: an answer that is not a decision (a status other
	// than 200 without a well-formed deny, malformed or oversized JSON, a
	// missing decision id or effect, an effect other than allow or deny).
	ErrInvalidResponse = errors.New("policyclient: invalid flex-auth response")
)

// Check is one question: may actor do action on resource?
type Check struct {
	Actor    string
	Subject  string
	Action   string
	Resource string
	// Context holds scalar values only (string, number, bool): flex-auth
	// rejects nested values.
	Context map[string]any
}

// Decision is flex-auth's answer to one Check.
type Decision struct {
	// ID is the decision id flex-auth logged ("decision:<16 hex>"); it may be
	// empty only for a deny answered with a non-200 status.
	ID     string
	Effect string
	Reason string
}

// Allowed reports whether the decision is an allow.
func (d Decision) Allowed() bool { return d.Effect == EffectAllow }

// Known reports whether the decision was received (CheckAll leaves the
// decisions of checks it did not complete zero).
func (d Decision) Known() bool { return d.Effect != "" }

// Config configures a Client.
type Config struct {
	// URL is flex-auth's base URL, e.g.
	// http://flex-auth.flex-auth.svc.cluster.local:8080.
	URL string
	// Timeout is the deadline shared by the checks of one CheckAll call.
	Timeout time.Duration
	// Concurrency bounds the checks in flight per CheckAll call.
	Concurrency int
	// RootCAs, when set, are the CAs an https URL's server certificate is
	// verified against instead of the system roots (flex-auth behind a
	// private CA). Ignored when HTTPClient is set.
	RootCAs *x509.CertPool
	// ClientCertificate, when set, supplies the client certificate
	// presented to an https flex-auth that asks for one (see
	// httpx.ClientCertificate). Ignored when HTTPClient is set.
	ClientCertificate func(*tls.CertificateRequestInfo) (*tls.Certificate, error)
	// HTTPClient, when set, replaces the client New builds (tests).
	HTTPClient *http.Client
}

// Client is safe for concurrent use; it reuses one http.Client and its
// connections for every check.
type Client struct {
	endpoint    string
	timeout     time.Duration
	concurrency int
	http        *http.Client
}

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("policyclient: %q is not an absolute http(s) URL", cfg.URL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	hc := cfg.HTTPClient
	if hc == nil {
		t := NewTransport(cfg.Concurrency)
		t.TLSClientConfig.RootCAs = cfg.RootCAs
		t.TLSClientConfig.GetClientCertificate = cfg.ClientCertificate
		hc = &http.Client{Transport: t}
	}
	return &Client{
		endpoint:    strings.TrimSuffix(cfg.URL, "/") + CheckPath,
		timeout:     cfg.Timeout,
		concurrency: cfg.Concurrency,
		http:        hc,
	}, nil
}

// NewTransport returns a transport tuned for many small requests to one
// host: keep-alive with enough idle connections per host for the
// concurrency of several token requests at once. Over https it speaks
// TLS 1.2 or later and verifies the server against the system roots
// (New sets RootCAs from Config.RootCAs).
func NewTransport(concurrency int) *http.Transport {
	idle := 4 * concurrency
	return &http.Transport{
		Proxy:           nil, // in-cluster calls never go through a proxy
		TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12},
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          4 * idle,
		MaxIdleConnsPerHost:   idle,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
}

// Timeout is the deadline of one CheckAll call.
func (c *Client) Timeout() time.Duration { return c.timeout }

// CheckAll runs the checks concurrently (at most Concurrency at a time)
// under one deadline of Timeout. It returns one decision per check, in
// order. On the first failure it cancels the checks still running and
// returns that failure; decisions already received are kept, the others
// are zero (Known is false).
func (c *Client) CheckAll(ctx context.Context, checks []Check) ([]Decision, error) {
	out := make([]Decision, len(checks))
	if len(checks) == 0 {
		return out, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		sem      = make(chan struct{}, c.concurrency)
	)
	for i := range checks {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			d, err := c.check(ctx, checks[i])
			if err != nil {
				once.Do(func() { firstErr = err; cancel() })
				return
			}
			out[i] = d
		}(i)
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = classify(ctx, ctx.Err())
	}
	return out, firstErr
}

// Check asks one question under a deadline of Timeout.
func (c *Client) Check(ctx context.Context, ch Check) (Decision, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return c.check(ctx, ch)
}

// request is the body of POST /v1/check (flex-auth's checkapi.Request).
type request struct {
	Actor    string         `json:"actor"`
	Subject  string         `json:"subject,omitempty"`
	Action   string         `json:"action"`
	Resource string         `json:"resource,omitempty"`
	Context  map[string]any `json:"context,omitempty"`
}

// envelope holds the members of flex-auth's decision envelope that are
// read; pointers tell a missing member from an empty one.
type envelope struct {
	DecisionID *string `json:"decision_id"`
	Effect     *string `json:"effect"`
	Reason     string  `json:"reason"`
}

func (c *Client) check(ctx context.Context, ch Check) (Decision, error) {
	body, err := json.Marshal(request(ch))
	if err != nil {
		return Decision{}, fmt.Errorf("%w: %v", ErrInvalidResponse, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return Decision{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	// A check is idempotent: this lets the transport resend it on a fresh
	// connection when a kept-alive one turns out to be closed (flex-auth
	// restarted). A nil value marks the request without sending a header.
	req.Header["Idempotency-Key"] = nil
	resp, err := c.http.Do(req)
	if err != nil {
		return Decision{}, classify(ctx, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return Decision{}, classify(ctx, err)
	}
	// Drain a little so that the connection can be reused.
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	if len(raw) > MaxResponseBytes {
		return Decision{}, fmt.Errorf("%w: body exceeds %d bytes", ErrInvalidResponse, MaxResponseBytes)
	}
	return parse(resp.StatusCode, raw)
}

// parse turns an answer into a decision. A 200 must be a complete
// envelope; any other status counts as a decision only when its body is a
// well-formed deny (flex-auth answers 503 with effect deny when it cannot
// write its decision log).
func parse(status int, raw []byte) (Decision, error) {
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return Decision{}, fmt.Errorf("%w: status %d, body is not a JSON object", ErrInvalidResponse, status)
	}
	if status != http.StatusOK {
		if env.Effect != nil && *env.Effect == EffectDeny {
			d := Decision{Effect: EffectDeny, Reason: env.Reason}
			if env.DecisionID != nil {
				d.ID = *env.DecisionID
			}
			return d, nil
		}
		return Decision{}, fmt.Errorf("%w: status %d", ErrInvalidResponse, status)
	}
	switch {
	case env.Effect == nil:
		return Decision{}, fmt.Errorf("%w: no effect", ErrInvalidResponse)
	case *env.Effect != EffectAllow && *env.Effect != EffectDeny:
		return Decision{}, fmt.Errorf("%w: effect %.32q is neither allow nor deny", ErrInvalidResponse, *env.Effect)
	case env.DecisionID == nil || *env.DecisionID == "":
		return Decision{}, fmt.Errorf("%w: no decision id", ErrInvalidResponse)
	}
	return Decision{ID: *env.DecisionID, Effect: *env.Effect, Reason: env.Reason}, nil
}

// classify maps a transport error to an outage kind: the deadline of ctx
// (or any network timeout) is a timeout, everything else unavailable.
func classify(ctx context.Context, err error) error {
	var ne net.Error
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%w: %v", ErrTimeout, err)
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}
