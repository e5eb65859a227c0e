package dpop_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/stellaops/authgate/pkg/dpop"
)

// roundTripFunc records the requests the transport passes on.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTransportRealmDefaultPortIsTheSameRealm(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwk.FromRaw(priv)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		realm, url string
		signed     bool
	}{
		{"https://tok.example/token", "https://tok.example:443/token", true},
		{"https://tok.example:443/token", "https://tok.example/token", true},
		{"http://tok.example:80/token", "http://tok.example/token", true},
		{"http://tok.example/token", "http://tok.example:80/token", true},
		{"https://TOK.example/token", "https://tok.example:443/token?scope=x", true},
		{"https://[::1]:443/token", "https://[::1]/token", true},
		{"https://tok.example/token", "https://tok.example:8443/token", false},
		{"https://tok.example/token", "https://tok.example:80/token", false},
		{"http://tok.example/token", "http://tok.example:443/token", false},
		{"https://tok.example:8443/token", "https://tok.example/token", false},
		{"https://tok.example/token", "http://tok.example:443/token", false},
	}
	for _, c := range cases {
		var got *http.Request
		tr := &dpop.Transport{Realm: c.realm, AccessToken: "tok.en.x", Key: key,
			Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				got = r
				return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
			})}
		req, _ := http.NewRequest(http.MethodGet, c.url, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s -> %s: %v", c.realm, c.url, err)
		}
		resp.Body.Close()
		if signed := got.Header.Get(dpop.HeaderDPoP) != ""; signed != c.signed {
			t.Errorf("realm %s, request %s: signed %v, want %v", c.realm, c.url, signed, c.signed)
		}
	}
}
