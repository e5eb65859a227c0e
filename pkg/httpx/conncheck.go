package httpx

import (
	"crypto/tls"
	"net/http"
	"sync/atomic"
	"time"
)

// connKey holds a connection's connState in its context.
type connKey struct{}

// connState is what the connection checks remember of a connection.
type connState struct {
	first atomic.Int64 // UnixNano of its first request
}

// connChecks runs before every request, whatever the handler:
//   - a client certificate is valid at the time of the request, not only
//     at the handshake: when the verified chain (the certificate or a CA
//     above it) is expired or not yet valid, the request goes on as if no
//     certificate had been presented (certificate callers and
//     certificate-bound tokens are refused as without one), and the
//     connection is closed after the answer;
//   - a connection older than maxAge (from its first request) is closed
//     after the answer (Connection: close), so that clients open a new
//     one with a new handshake against the current client CAs.
func connChecks(h http.Handler, maxAge time.Duration, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := now()
		if st, ok := r.Context().Value(connKey{}).(*connState); ok && maxAge > 0 {
			st.first.CompareAndSwap(0, t.UnixNano())
			if t.Sub(time.Unix(0, st.first.Load())) >= maxAge {
				w.Header().Set("Connection", "close")
			}
		}
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 && !chainValidAt(r.TLS, t) {
			w.Header().Set("Connection", "close")
			cs := *r.TLS
			cs.PeerCertificates, cs.VerifiedChains = nil, nil
			r = r.Clone(r.Context())
			r.TLS = &cs
		}
		h.ServeHTTP(w, r)
	})
}

// chainValidAt reports whether every certificate of the verified chains'
// first chain (or, unverified, the peer's certificates) is valid at t.
func chainValidAt(cs *tls.ConnectionState, t time.Time) bool {
	chain := cs.PeerCertificates
	if len(cs.VerifiedChains) > 0 {
		chain = cs.VerifiedChains[0]
	}
	for _, c := range chain {
		if t.Before(c.NotBefore) || t.After(c.NotAfter) {
			return false
		}
	}
	return true
}
