// Package dpop verifies sender-constrained OAuth access tokens: DPoP proofs
// (RFC 9449) and mutual-TLS certificate binding (RFC 8705).
//
// It is framework-free: it takes a clock, returns *Error values shaped
// like RFC 6750 / RFC 9449 errors, and builds WWW-Authenticate challenges;
// mapping them to responses is the caller's job.
//
// # DPoP
//
// Build one Verifier at start-up. The expected htu of every request is
// Config.PublicBaseURL plus the request path: Host and X-Forwarded-*
// headers are never used, so a client cannot choose the URL its proof is
// checked against.
//
//	cache := dpop.NewMemoryReplayCache(ctx, dpop.MemoryOptions{}) // or NewRedisReplayCache
//	defer cache.Close()
//	v, err := dpop.NewVerifier(dpop.Config{
//		PublicBaseURL: "https://registry-token.example.com",
//		MaxAge:        60 * time.Second,
//		ClockSkew:     5 * time.Second,
//		Replay:        cache,
//	})
//
// Per request, once the access token is validated:
//
//	req := dpop.FromHTTP(r)          // method, escaped path, DPoP headers
//	req.AccessToken = token          // checked against the proof's ath
//	req.TokenJKT = claims.Cnf.JKT    // the proof key must have this thumbprint
//	proof, err := v.Verify(ctx, req) // proof.JKT, proof.PublicKey, proof.JTI, ...
//	if err != nil {
//		var e *dpop.Error
//		if errors.As(err, &e) {
//			c := dpop.NewChallenge(dpop.SchemeDPoP, e)
//			c.Algs = v.Algorithms()
//			w.Header().Set("WWW-Authenticate", c.String())
//			if e.Nonce != "" {
//				w.Header().Set(dpop.HeaderDPoPNonce, e.Nonce)
//			}
//			// respond with e.Status, e.Code, e.Description
//		}
//	}
//
// Verify checks, in order: one DPoP header of at most 8 KiB in JWS compact
// form; typ dpop+jwt; alg on the allow-list; no crit; a public,
// asymmetric jwk of the alg's type (RSA of 2048 bits or more, EC
// coordinates of full length); the signature, with that key; then the
// claims: jti (1 to 256 bytes), htm equal to the method, htu equal after
// RFC 3986 normalization, iat a number within
// [now-MaxAge-ClockSkew, now+ClockSkew], ath, the key's RFC 7638
// thumbprint equal to the token's cnf.jkt (constant time), the server
// nonce when Config.RequireNonce is set; and last it claims the proof in the
// ReplayCache under hash(jkt, htm, htu, jti) until iat+MaxAge+ClockSkew.
// The token is decoded once: no JOSE library parses it a second time.
//
// The replay caches fail closed: a full MemoryReplayCache
// (ErrReplayCacheFull) or an unreachable Redis (ErrReplayStore) makes
// Verify return ErrTemporarilyUnavailable; a replay is ErrInvalidDPoPProof
// wrapping ErrReplayed.
//
// A cache that loses its entries (a process restart, a Redis restart,
// flush or failover) can no longer tell a replay from a first use. Both
// caches keep an epoch (the memory cache's start; for Redis, a marker key
// that disappears with the data and names the master it was written on),
// and a Verifier with Config.ReplayEpoch accepts a proof whose iat is
// earlier than the epoch plus ClockSkew only with a server nonce issued
// at or after the epoch. Without one it answers ErrUseDPoPNonce (wrapping
// ErrProofBeforeEpoch) with a fresh nonce: a client retries once and
// passes, a replayed proof never does. A service may stay unready until
// that window has passed at start (MemoryReplayCache.Epoch,
// RedisReplayCache.Epoch), so that a new replica costs no retry.
//
// # Mutual TLS
//
// For a token with cnf["x5t#S256"]:
//
//	cert, err := dpop.ClientCertificate(r.TLS, r.Header, dpop.PeerAddr(r), trusted)
//	if err == nil {
//		err = dpop.CheckCertBinding(cert, claims.Cnf.X5tS256)
//	}
//
// where trusted, from ParseTrustedProxies, lists the TLS-terminating
// proxies whose forwarded certificate header (RFC 9440 Client-Cert,
// Envoy's X-Forwarded-Client-Cert or nginx's ssl-client-cert: one
// configured header) is believed. From any other peer only the TLS
// connection's own certificate counts.
//
// # Clients and tests
//
// NewProof signs a proof for a request; Thumbprint gives the cnf.jkt of a
// key and CertThumbprint the x5t#S256 of a certificate. Transport is an
// http.RoundTripper for registry clients written in Go
// (go-containerregistry, oras-go, regclient): it presents a DPoP-bound
// access token with a fresh proof to one token endpoint, and retries once
// on a DPoP-Nonce challenge.
//
//	tr := &dpop.Transport{Realm: "https://registry-token.example.com/token", AccessToken: opTok, Key: key}
//	img, err := remote.Image(ref, remote.WithTransport(tr))
package dpop
