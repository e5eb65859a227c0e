package dpop

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// Transport is the client side of DPoP for one token endpoint (a
// registry's realm): an http.RoundTripper that signs a fresh proof for
// every request to Realm and passes every other request through
// unchanged. It plugs into go-containerregistry (remote.WithTransport),
// oras-go (auth.Client.Client) and regclient (a custom http.Client), whose
// own Basic or anonymous flows it replaces at the realm.
//
// A request to the realm gets "Authorization: DPoP <AccessToken>" and a
// DPoP proof (htm = method, htu = URL without query, ath = hash of
// AccessToken), replacing whatever Authorization the client set. A POST
// of an OAuth2 form (application/x-www-form-urlencoded) is the one
// exception: the access token then rides in the form (the client's
// identity token or password must be AccessToken), so the transport adds
// only the proof and drops any Authorization header.
//
// When the realm answers 400 or 401 with error use_dpop_nonce and a
// DPoP-Nonce header, the request is sent once more with a proof carrying
// that nonce (RFC 9449 §8); a request body is replayed through
// Request.GetBody, and without one the first answer is returned. The
// latest nonce the realm sent is used in the next proofs.
type Transport struct {
	// Base does the actual round trips (default http.DefaultTransport).
	Base http.RoundTripper
	// Realm is the token URL ("https://registry-token.example.com/token").
	// Requests match on scheme, host, port (an explicit default port is the
	// same as none) and path; the query is ignored.
	Realm string
	// AccessToken is the DPoP-bound token to present.
	AccessToken string
	// Key is the private key the token is bound to (cnf.jkt).
	Key jwk.Key
	// Alg is the proof algorithm; default ES256, ES384, ES512 or EdDSA
	// from the key's curve, PS256 for RSA keys.
	Alg string
	// Now is the clock of proof iat (default time.Now).
	Now func() time.Time

	realmCalls atomic.Int64
	mu         sync.Mutex
	nonce      string
}

// RealmCalls reports how many requests went to the realm (retries count).
func (t *Transport) RealmCalls() int64 { return t.realmCalls.Load() }

// RoundTrip implements http.RoundTripper. Like every RoundTripper it does
// not modify r: it sends a clone.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	match, err := t.matches(r.URL)
	if err != nil {
		return nil, err
	}
	if !match {
		return base.RoundTrip(r)
	}
	t.mu.Lock()
	nonce := t.nonce
	t.mu.Unlock()
	resp, err := t.send(base, r, r.Body, nonce)
	if err != nil {
		return nil, err
	}
	next := t.remember(resp)
	if !needsNonce(resp) || next == "" || next == nonce {
		return resp, nil
	}
	body := r.Body
	if r.Body != nil && r.Body != http.NoBody {
		if r.GetBody == nil {
			return resp, nil
		}
		if body, err = r.GetBody(); err != nil {
			return resp, nil
		}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	resp, err = t.send(base, r, body, next)
	if err != nil {
		return nil, err
	}
	t.remember(resp)
	return resp, nil
}

// send signs a proof and sends a clone of r with body.
func (t *Transport) send(base http.RoundTripper, r *http.Request, body io.ReadCloser, nonce string) (*http.Response, error) {
	t.realmCalls.Add(1)
	alg := t.Alg
	if alg == "" {
		var err error
		if alg, err = defaultAlg(t.Key); err != nil {
			return nil, err
		}
	}
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	proof, err := NewProof(t.Key, alg, r.Method, r.URL.String(), t.AccessToken, nonce, now())
	if err != nil {
		return nil, err
	}
	out := r.Clone(r.Context())
	out.Body = body
	out.Header.Del("Authorization")
	if !isFormPost(r) {
		out.Header.Set("Authorization", SchemeDPoP+" "+t.AccessToken)
	}
	out.Header.Set(HeaderDPoP, proof)
	return base.RoundTrip(out)
}

// remember keeps the realm's latest DPoP-Nonce and returns it ("" when
// the answer carries none).
func (t *Transport) remember(resp *http.Response) string {
	n := resp.Header.Get(HeaderDPoPNonce)
	if n != "" {
		t.mu.Lock()
		t.nonce = n
		t.mu.Unlock()
	}
	return n
}

func (t *Transport) matches(u *url.URL) (bool, error) {
	if t.Realm == "" {
		return false, errors.New("dpop: Transport.Realm is empty")
	}
	realm, err := url.Parse(t.Realm)
	if err != nil || realm.Host == "" {
		return false, fmt.Errorf("dpop: Transport.Realm %q is not an absolute URL", t.Realm)
	}
	return strings.EqualFold(u.Scheme, realm.Scheme) && strings.EqualFold(hostPort(u), hostPort(realm)) &&
		strings.TrimSuffix(u.EscapedPath(), "/") == strings.TrimSuffix(realm.EscapedPath(), "/"), nil
}

// hostPort is u's host with the scheme's default port left out, so that
// https://host:443/token and https://host/token are the same realm.
func hostPort(u *url.URL) string {
	port := u.Port()
	if (port == "443" && strings.EqualFold(u.Scheme, "https")) || (port == "80" && strings.EqualFold(u.Scheme, "http")) {
		port = ""
	}
	if port == "" {
		return u.Hostname()
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// needsNonce reports whether resp asks for a proof with a server nonce:
// error use_dpop_nonce in a WWW-Authenticate challenge (resource servers,
// 401) or in the JSON body (authorization servers, 400).
func needsNonce(resp *http.Response) bool {
	if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusBadRequest {
		return false
	}
	for _, v := range resp.Header.Values("WWW-Authenticate") {
		if strings.Contains(v, `error="use_dpop_nonce"`) {
			return true
		}
	}
	if resp.StatusCode != http.StatusBadRequest || resp.Body == nil {
		return false
	}
	// Peek at the body and put it back for the caller.
	head, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body = readCloser{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	return err == nil && bytes.Contains(head, []byte(`"use_dpop_nonce"`))
}

type readCloser struct {
	io.Reader
	io.Closer
}

func isFormPost(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// defaultAlg picks the proof algorithm for k.
func defaultAlg(k jwk.Key) (string, error) {
	if k == nil {
		return "", errors.New("dpop: Transport.Key is nil")
	}
	if a := k.Algorithm().String(); a != "" {
		return a, nil
	}
	switch key := k.(type) {
	case jwk.ECDSAPrivateKey:
		switch key.Crv().String() {
		case "P-256":
			return "ES256", nil
		case "P-384":
			return "ES384", nil
		case "P-521":
			return "ES512", nil
		}
	case jwk.OKPPrivateKey:
		if key.Crv().String() == "Ed25519" {
			return "EdDSA", nil
		}
	case jwk.RSAPrivateKey:
		return "PS256", nil
	}
	return "", fmt.Errorf("dpop: no proof algorithm for a %s key; set Transport.Alg", k.KeyType())
}
