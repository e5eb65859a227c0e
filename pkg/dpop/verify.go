package dpop

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// Defaults and limits.
const (
	DefaultMaxAge    = 60 * time.Second
	DefaultClockSkew = 5 * time.Second
	// MaxProofSize is the largest DPoP header value accepted; larger values
	// are rejected before any decoding.
	MaxProofSize = 8 << 10
	// MaxJTILength is the longest jti accepted, in bytes.
	MaxJTILength = 256
	// ProofType is the required "typ" header of a proof.
	ProofType = "dpop+jwt"
	// HeaderDPoP and HeaderDPoPNonce are the RFC 9449 header names.
	HeaderDPoP      = "DPoP"
	HeaderDPoPNonce = "DPoP-Nonce"
)

// Config configures a Verifier. PublicBaseURL and Replay are required.
type Config struct {
	// PublicBaseURL is the externally visible URL of the service, e.g.
	// "https://registry-token.example.com", optionally with a path prefix
	// under which a proxy publishes it ("https://example.com/auth"). The
	// expected htu of a request is PublicBaseURL + Request.Path; the Host
	// and X-Forwarded-* headers of a request are never consulted.
	PublicBaseURL string
	// Algorithms is the proof algorithm allow-list (default
	// DefaultAlgorithms). Supported: ES256 ES384 ES512 EdDSA Ed25519 RS256
	// RS384 RS512 PS256 PS384 PS512; anything else ("none", HS256, ...)
	// makes NewVerifier fail. EdDSA and Ed25519 (its RFC 9864 name) allow
	// each other: both are appended to Algorithms() when one is listed.
	Algorithms []string
	// MaxAge is how old a proof's iat may be (default DefaultMaxAge).
	MaxAge time.Duration
	// ClockSkew is the tolerance for client clocks, applied on both sides
	// of the window (default DefaultClockSkew).
	ClockSkew time.Duration
	// Replay remembers accepted proofs (required): NewMemoryReplayCache for
	// a single replica, NewRedisReplayCache when replicas share the load.
	Replay ReplayCache
	// ReplayEpoch makes sure that a proof accepted before the replay
	// cache lost its entries (a restart, a Redis flush, a Redis failover:
	// a new epoch, see EpochReplayCache) cannot be replayed after. A proof
	// dated earlier than the epoch plus ClockSkew passes only with a
	// server nonce issued at or after the epoch; without one, Verify
	// answers ErrUseDPoPNonce (wrapping ErrProofBeforeEpoch) with a fresh
	// nonce, so a client retries once and goes through (RFC 9449 §8):
	// fresh proofs are never refused outright. Replay must then be an
	// EpochReplayCache (both caches of this package are). Replicas
	// sharing a cache must share Nonces' key and keep their clocks in
	// sync (NTP), as for the iat window itself.
	ReplayEpoch bool
	// Nonces issues and checks server nonces. With ReplayEpoch and no
	// Nonces, NewVerifier makes HMACNonces with a random key (fine for a
	// single replica: another replica would not accept its nonces).
	Nonces NonceSource
	// RequireNonce requires a valid nonce from Nonces in every proof.
	RequireNonce bool
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Verifier checks DPoP proofs (RFC 9449 §4.3) and binds them to access
// tokens (§7.1). It is safe for concurrent use. It remembers the keys of
// proofs whose signature verified (bounded tables keyed by the exact
// protected header and by the exact jwk bytes), so a client's later
// proofs skip the header decoding, the JWK import and the thumbprint;
// the signature and every other check still run on every proof.
type Verifier struct {
	base     string
	algs     map[string]*algInfo
	algNames []string
	maxAge   time.Duration
	skew     time.Duration
	replay   ReplayCache
	epochs   EpochReplayCache // set when Config.ReplayEpoch
	nonces   NonceSource
	require  bool // Config.RequireNonce
	now      func() time.Time
	keys     *keyCache
}

// Request is what the Verifier needs to know about an HTTP request.
type Request struct {
	// Method is the request method, e.g. http.MethodGet.
	Method string
	// Path is the escaped request path (r.URL.EscapedPath()); a query or
	// fragment is ignored. It is appended to Config.PublicBaseURL.
	Path string
	// ProofHeaders holds every DPoP header value (r.Header.Values("DPoP")).
	// Exactly one is required.
	ProofHeaders []string
	// AccessToken is the access token presented with the request, if any.
	// When set, the proof must carry its hash (ath) and TokenJKT must be
	// set: a token without cnf.jkt is not DPoP-bound and is rejected.
	AccessToken string
	// TokenJKT is the access token's cnf.jkt claim. The proof key's
	// thumbprint must equal it (compared in constant time).
	TokenJKT string
}

// FromHTTP fills Method, Path and ProofHeaders from r. It deliberately
// ignores r.Host, r.URL.Host and X-Forwarded-* headers: the expected htu
// comes from Config.PublicBaseURL. Set AccessToken and TokenJKT after
// validating the access token.
func FromHTTP(r *http.Request) Request {
	return Request{
		Method:       r.Method,
		Path:         r.URL.EscapedPath(),
		ProofHeaders: r.Header.Values(HeaderDPoP),
	}
}

// Proof is a verified DPoP proof.
type Proof struct {
	// JKT is the RFC 7638 SHA-256 thumbprint of PublicKey (the value a
	// bound token carries in cnf.jkt; an authorization server puts it
	// there).
	JKT string
	// PublicKey is the proof's public key: *ecdsa.PublicKey,
	// ed25519.PublicKey or *rsa.PublicKey (JWK makes it a jwk.Key).
	PublicKey crypto.PublicKey
	// Algorithm is the proof's alg.
	Algorithm string
	JTI       string
	HTM       string
	// HTU is the normalized htu (query and fragment removed).
	HTU      string
	IssuedAt time.Time
	// Nonce is the server nonce the proof carried, if any.
	Nonce string
}

// NewVerifier checks cfg and returns a Verifier.
func NewVerifier(cfg Config) (*Verifier, error) {
	var problems []error
	v := &Verifier{
		algs:    make(map[string]*algInfo),
		maxAge:  cfg.MaxAge,
		skew:    cfg.ClockSkew,
		replay:  cfg.Replay,
		nonces:  cfg.Nonces,
		require: cfg.RequireNonce,
		now:     cfg.Now,
		keys:    newKeyCache(),
	}
	base, err := normalizeBaseURL(cfg.PublicBaseURL)
	if err != nil {
		problems = append(problems, err)
	}
	v.base = base
	names := cfg.Algorithms
	if len(names) == 0 {
		names = DefaultAlgorithms
	}
	for _, name := range names {
		info, ok := algorithms[name]
		if !ok {
			problems = append(problems, fmt.Errorf("dpop: algorithm %q is not an allowed proof algorithm", name))
			continue
		}
		if _, dup := v.algs[name]; !dup {
			v.algs[name] = info
			v.algNames = append(v.algNames, name)
		}
	}
	// EdDSA allowed allows its fully-specified name Ed25519 (RFC 9864),
	// the same signature, and the other way round.
	for _, pair := range [][2]string{{"EdDSA", "Ed25519"}, {"Ed25519", "EdDSA"}} {
		_, has := v.algs[pair[0]]
		if _, other := v.algs[pair[1]]; has && !other {
			v.algs[pair[1]] = algorithms[pair[1]]
			v.algNames = append(v.algNames, pair[1])
		}
	}
	if v.maxAge == 0 {
		v.maxAge = DefaultMaxAge
	}
	if v.skew == 0 {
		v.skew = DefaultClockSkew
	}
	if v.maxAge < 0 || v.skew < 0 {
		problems = append(problems, errors.New("dpop: MaxAge and ClockSkew must not be negative"))
	}
	if v.replay == nil {
		problems = append(problems, errors.New("dpop: a ReplayCache is required"))
	} else if cfg.ReplayEpoch {
		var ok bool
		if v.epochs, ok = v.replay.(EpochReplayCache); !ok {
			problems = append(problems, errors.New("dpop: ReplayEpoch needs a ReplayCache that keeps an epoch (EpochReplayCache)"))
		}
		if v.nonces == nil {
			if v.nonces, err = randomNonces(); err != nil {
				problems = append(problems, err)
			}
		}
	}
	if v.require && v.nonces == nil {
		problems = append(problems, errors.New("dpop: RequireNonce needs Nonces"))
	}
	if v.now == nil {
		v.now = time.Now
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	return v, nil
}

// normalizeBaseURL checks PublicBaseURL and returns its normal form without
// a trailing slash, ready to be joined with a request path.
func normalizeBaseURL(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("dpop: PublicBaseURL is required")
	}
	if strings.ContainsAny(raw, "?#") {
		return "", errors.New("dpop: PublicBaseURL must not have a query or fragment")
	}
	n, err := normalizeHTU(raw)
	if err != nil {
		return "", fmt.Errorf("dpop: PublicBaseURL %q is not an absolute http(s) URL without userinfo", raw)
	}
	return strings.TrimSuffix(n, "/"), nil
}

// Algorithms returns the allow-list, e.g. for the algs attribute of a
// DPoP challenge.
func (v *Verifier) Algorithms() []string { return append([]string(nil), v.algNames...) }

// NewNonce returns a fresh nonce from Config.Nonces (for a DPoP-Nonce
// header on a successful response), or "" when nonces are not configured.
// Only with RequireNonce does a successful response need one.
func (v *Verifier) NewNonce() (string, error) {
	if !v.require {
		return "", nil
	}
	return v.nonces.NewNonce(v.now())
}

// Verify checks the DPoP proof of r and, when r carries an access token,
// its binding to that token; then it claims the proof in the replay cache,
// so a proof is accepted once. Errors are *Error values (compare with
// errors.Is against ErrInvalidDPoPProof, ErrInvalidToken, ErrUseDPoPNonce,
// ErrTemporarilyUnavailable), except for a Request that sets TokenJKT
// without AccessToken, which is a programming error.
func (v *Verifier) Verify(ctx context.Context, r Request) (*Proof, error) {
	if r.TokenJKT != "" && r.AccessToken == "" {
		return nil, errors.New("dpop: Request.TokenJKT is set without Request.AccessToken")
	}
	htu, err := v.expectedHTU(r.Path)
	if err != nil {
		return nil, ErrInvalidRequest.WithDescription("The request path is malformed.").WithCause(err)
	}
	switch {
	case len(r.ProofHeaders) == 0 || r.ProofHeaders[0] == "":
		return nil, invalidProof("The DPoP proof is missing.")
	case len(r.ProofHeaders) > 1:
		return nil, invalidProof("Exactly one DPoP header is allowed.")
	}

	p, desc := parseProof(r.ProofHeaders[0], v.algs, v.keys)
	if p == nil {
		return nil, invalidProof(desc)
	}

	// Claims, checked only once the signature is known to be good.
	c := &p.claims
	if c.htm != r.Method {
		return nil, invalidProof("The DPoP proof htm does not match the request method.")
	}
	gotHTU, err := normalizeHTU(c.htu)
	if err != nil || gotHTU != htu {
		return nil, invalidProof("The DPoP proof htu does not match the request URL.")
	}
	now := v.now()
	if c.iat.Before(now.Add(-v.maxAge - v.skew)) {
		return nil, invalidProof("The DPoP proof is too old.")
	}
	if c.iat.After(now.Add(v.skew)) {
		return nil, invalidProof("The DPoP proof is issued in the future.")
	}
	if r.AccessToken != "" {
		if !c.hasATH {
			return nil, invalidProof("The DPoP proof has no ath for the access token.")
		}
		sum := sha256.Sum256([]byte(r.AccessToken))
		want := b64.EncodeToString(sum[:])
		if subtle.ConstantTimeCompare([]byte(c.ath), []byte(want)) != 1 {
			return nil, invalidProof("The DPoP proof ath does not match the access token.")
		}
		if r.TokenJKT == "" {
			return nil, ErrInvalidToken.WithDescription("The access token is not DPoP-bound.")
		}
		if subtle.ConstantTimeCompare([]byte(p.key.jkt), []byte(r.TokenJKT)) != 1 {
			return nil, ErrInvalidToken.WithDescription("Invalid DPoP key binding.")
		}
	}
	var issued time.Time // of a valid nonce
	nonceOK := false
	if v.nonces != nil && c.hasNonce {
		issued, nonceOK = v.nonces.CheckNonce(c.nonce, now)
	}
	if v.require && !nonceOK {
		return nil, v.useNonce(now, nil)
	}

	// Last step: claim the proof, only for proofs that passed everything.
	key := NewReplayKey(p.key.jkt, c.htm, gotHTU, c.jti)
	if epoch, err := v.claim(ctx, key, c.iat, nonceOK, issued); err != nil {
		if errors.Is(err, ErrProofBeforeEpoch) {
			// Dated no earlier than the epoch, which another replica
			// may have begun by a clock slightly ahead.
			return nil, v.useNonce(later(v.now(), epoch), err)
		}
		if errors.Is(err, ErrReplayed) {
			return nil, invalidProof("The DPoP proof has already been used.").WithCause(ErrReplayed)
		}
		return nil, ErrTemporarilyUnavailable.WithCause(err)
	}
	return &Proof{
		JKT:       p.key.jkt,
		PublicKey: p.key.pub,
		Algorithm: p.alg.name,
		JTI:       c.jti,
		HTM:       c.htm,
		HTU:       gotHTU,
		IssuedAt:  c.iat,
		Nonce:     c.nonce,
	}, nil
}

// JWK returns the proof's public key as a JWK (a new one at each call).
func (p *Proof) JWK() (jwk.Key, error) {
	k, err := jwk.FromRaw(p.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("dpop: wrap proof key: %w", err)
	}
	return k, nil
}

// useNonce is ErrUseDPoPNonce with a fresh nonce, wrapping cause.
func (v *Verifier) useNonce(now time.Time, cause error) error {
	fresh, err := v.nonces.NewNonce(now)
	if err != nil {
		return ErrTemporarilyUnavailable.WithCause(err)
	}
	e := ErrUseDPoPNonce.WithDescription("A fresh server nonce is required in the DPoP proof.").WithNonce(fresh)
	if cause != nil {
		e = e.WithCause(cause)
	}
	return e
}

// claim records the proof in the replay cache until iat + MaxAge +
// ClockSkew. With Config.ReplayEpoch, a proof dated before the cache's
// epoch plus ClockSkew is ErrProofBeforeEpoch unless it carries a valid
// nonce issued at or after the epoch: the cache cannot know whether it
// was accepted before the epoch, but a nonce issued since was not in any
// proof accepted before.
func (v *Verifier) claim(ctx context.Context, key ReplayKey, iat time.Time, nonceOK bool, issued time.Time) (epoch time.Time, err error) {
	exp := iat.Add(v.maxAge + v.skew)
	if v.epochs == nil {
		return epoch, v.replay.Claim(ctx, key, exp)
	}
	epoch, err = v.epochs.ClaimEpoch(ctx, key, exp)
	if (err == nil || errors.Is(err, ErrReplayed)) && iat.Before(epoch.Add(v.skew)) && (!nonceOK || issued.Before(epoch)) {
		return epoch, ErrProofBeforeEpoch
	}
	return epoch, err
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (v *Verifier) expectedHTU(path string) (string, error) {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if path == "" {
		path = "/"
	}
	if path[0] != '/' {
		return "", errors.New("dpop: request path must start with /")
	}
	return normalizeHTU(v.base + path)
}

func invalidProof(desc string) *Error { return ErrInvalidDPoPProof.WithDescription(desc) }
