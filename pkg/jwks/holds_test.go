package jwks

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// Holds is true for the key a Verify used while a refresh publishes the
// same material under its kid, and false once the key is withdrawn, its
// kid names other material, or its alg changes.
func TestHoldsTheVerifyingKey(t *testing.T) {
	one, other := ecSigner(t, "k1"), ecSigner(t, "k1")
	var keys atomic.Value
	keys.Store([]map[string]any{one.public(t, "ES256")})
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/jwks" {
			_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys.Load()})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": srv.URL + "/jwks"})
	}))
	t.Cleanup(srv.Close)
	c := New(Config{Issuer: srv.URL, MetadataURL: srv.URL + "/.well-known/openid-configuration"})
	ctx := context.Background()
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := c.Verify(ctx, one.sign(t, "ES256", map[string]any{"sub": "x"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		name  string
		keys  []map[string]any
		holds bool
	}{
		{"same key again", []map[string]any{one.public(t, "ES256")}, true},
		{"same key beside a new one", []map[string]any{ecSigner(t, "k2").public(t, "ES256"), one.public(t, "ES256")}, true},
		{"alg removed", []map[string]any{one.public(t, "")}, false},
		{"kid re-published with other material", []map[string]any{other.public(t, "ES256")}, false},
		{"the key back, but a new object", []map[string]any{one.public(t, "ES256")}, false},
		{"withdrawn", []map[string]any{ecSigner(t, "k2").public(t, "ES256")}, false},
	} {
		keys.Store(step.keys)
		if err := c.Refresh(ctx); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got := c.Holds(v.Kid, v.Key); got != step.holds {
			t.Fatalf("%s: Holds = %v, want %v", step.name, got, step.holds)
		}
	}
	if c.Holds("k1", nil) {
		t.Fatal("Holds of a nil key")
	}
}
