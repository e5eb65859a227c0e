package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/stellaops/authgate/services/registry-token/internal/dpopclient"
)

// A realm with a query of its own keeps it; service and every scope join
// it, and the request carries the OpTok with a DPoP proof. A realm that is
// not an http(s) URL is refused before any request.
func TestFetchJoinsTheRealmQuery(t *testing.T) {
	key, err := dpopclient.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		_ = json.NewEncoder(w).Encode(map[string]any{"token": "h.p.s", "expires_in": 300})
	}))
	defer srv.Close()
	o := &options{realm: srv.URL + "/token?tenant=a", service: "registry.example.com",
		scopes: []string{"repository:a/b:pull", "repository:a/c:pull,push"}}
	tok, err := fetch(context.Background(), srv.Client(), o, "o.p.t", key)
	if err != nil || tok.Token != "h.p.s" {
		t.Fatalf("fetch: %v %+v", err, tok)
	}
	q := got.URL.Query()
	if got.URL.Path != "/token" || q.Get("tenant") != "a" || q.Get("service") != "registry.example.com" ||
		!slices.Equal(q["scope"], o.scopes) {
		t.Fatalf("request %s", got.URL)
	}
	if got.Header.Get("Authorization") != "DPoP o.p.t" || got.Header.Get("DPoP") == "" {
		t.Fatalf("headers %v", got.Header)
	}
	for _, realm := range []string{"registry-token/token", "ftp://rt.example.com/token", "https://", "://x"} {
		o.realm = realm
		if _, err := fetch(context.Background(), srv.Client(), o, "o.p.t", key); err == nil || !strings.Contains(err.Error(), "not an http(s) URL") {
			t.Errorf("realm %q: %v", realm, err)
		}
	}
}

// A registry whose challenge names a realm but no service: the helper
// says to give --service instead of asking the realm without one.
func TestChallengeWithoutService(t *testing.T) {
	realmCalls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			realmCalls++
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+r.Host+`/token"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	args := []string{"--registry", strings.TrimPrefix(srv.URL, "http://"), "--plain-http", "--realm", srv.URL + "/token", "--optok-file", "-", "--dpop-key", "unused"}
	err := run(context.Background(), args, noEnv, strings.NewReader("o.p.t"), &strings.Builder{}, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "give --service") || realmCalls != 0 {
		t.Fatalf("error %v (realm asked %d times)", err, realmCalls)
	}
}
