package dpop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/stellaops/authgate/pkg/dpop"
)

// A client of a token endpoint that requires server nonces: the Transport
// signs a proof for each request to the realm, and retries once with the
// nonce of the use_dpop_nonce challenge. Requests to other hosts (the
// registry itself) pass through untouched.
func ExampleTransport() {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, _ := jwk.FromRaw(priv)
	jkt, _ := dpop.Thumbprint(key) // the Authority binds the OpTok to it (cnf.jkt)
	opTok := "an-optok-bound-to-jkt"

	realm, stop := newRealm(jkt) // a token endpoint with a real dpop.Verifier
	defer stop()

	tr := &dpop.Transport{Realm: realm.URL + "/token", AccessToken: opTok, Key: key}
	client := &http.Client{Transport: tr}
	resp, err := client.Get(realm.URL + "/token?service=registry.example.com&scope=repository:team/app:pull")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, strings.TrimSpace(string(body)))
	fmt.Println("requests to the realm:", tr.RealmCalls())
	// Output:
	// 200 {"token":"registry-token-for-the-bound-key"}
	// requests to the realm: 2
}

// newRealm serves /token: a DPoP-bound token (cnf.jkt = jkt) with a valid
// proof carrying a server nonce gets a registry token.
func newRealm(jkt string) (*httptest.Server, func()) {
	nonces, _ := dpop.NewHMACNonces([]byte("a nonce key of at least 32 bytes!"), time.Minute)
	var v *dpop.Verifier
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "DPoP ")
		req := dpop.FromHTTP(r)
		req.AccessToken, req.TokenJKT = tok, jkt
		if _, err := v.Verify(r.Context(), req); err != nil {
			var e *dpop.Error
			errors.As(err, &e)
			w.Header().Set("WWW-Authenticate", dpop.NewChallenge(dpop.SchemeDPoP, err).String())
			if e != nil && e.Nonce != "" {
				w.Header().Set(dpop.HeaderDPoPNonce, e.Nonce)
			}
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprintln(w, `{"token":"registry-token-for-the-bound-key"}`)
	}))
	srv.Start()
	cache := dpop.NewMemoryReplayCache(context.Background(), dpop.MemoryOptions{})
	v, _ = dpop.NewVerifier(dpop.Config{PublicBaseURL: srv.URL, Replay: cache, Nonces: nonces, RequireNonce: true})
	return srv, func() { srv.Close(); _ = cache.Close() }
}
