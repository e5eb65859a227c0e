package jwks

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestJWKSURIMoved: when the JWKS at the discovered jwks_uri cannot be
// fetched any more, discovery is asked again and the jwks_uri it names
// now is followed (keys would else be dropped after MaxStale, for good,
// until a restart); an unchanged jwks_uri that fails stays a failure.
func TestJWKSURIMoved(t *testing.T) {
	first, second := ecSigner(t, "first"), ecSigner(t, "second")
	var jwksPath atomic.Value
	jwksPath.Store("/jwks-a")
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": srv.URL + jwksPath.Load().(string)})
	})
	serveOnlyAt := func(path string, s *signer) {
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			if jwksPath.Load().(string) != path {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]any{s.public(t, "ES256")}})
		})
	}
	serveOnlyAt("/jwks-a", first)
	serveOnlyAt("/jwks-b", second)
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	c := New(Config{Issuer: srv.URL, MetadataURL: srv.URL + "/.well-known/openid-configuration"})
	ctx := context.Background()
	if err := c.Refresh(ctx); err != nil || !c.Published("first") {
		t.Fatalf("first load: %v", err)
	}
	jwksPath.Store("/jwks-b")
	if err := c.Refresh(ctx); err != nil {
		t.Fatalf("refresh after the jwks_uri moved: %v", err)
	}
	if !c.Published("second") || c.Published("first") {
		t.Fatal("the keys at the new jwks_uri were not loaded")
	}
	jwksPath.Store("/jwks-gone")
	if err := c.Refresh(ctx); err == nil {
		t.Fatal("a refresh whose jwks_uri answers 404 succeeded")
	}
	if !c.Published("second") {
		t.Fatal("a failed refresh dropped the keys before MaxStale")
	}
}
