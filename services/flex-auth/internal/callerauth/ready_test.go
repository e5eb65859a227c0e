package callerauth

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestReadyFollowsTheAuthorityKeys: with tokens accepted, Ready holds
// while the Authority's keys are held and fails once they are dropped
// after JWKSMaxStale without a successful fetch; with certificate callers
// (alone, or beside tokens) it holds without keys.
func TestReadyFollowsTheAuthorityKeys(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.JWKSRefreshInterval = time.Minute; c.JWKSMaxStale = time.Hour })
	if !f.a.Ready() {
		t.Fatal("not ready with the keys just fetched")
	}
	f.auth.Fail(http.StatusInternalServerError)
	f.advance(59 * time.Minute)
	if !f.a.Ready() {
		t.Fatal("not ready before jwksMaxStale")
	}
	f.advance(2 * time.Minute)
	if f.a.Ready() {
		t.Fatal("ready with the keys dropped after jwksMaxStale")
	}
	wantStatus(t, f.a.Authenticate(f.request(sign(t, f.key, "ES256", f.claims()))), http.StatusServiceUnavailable)

	both := newFixture(t, func(c *Config) {
		c.JWKSRefreshInterval, c.JWKSMaxStale, c.ClientCertificates = time.Minute, time.Hour, []string{"CN=registry-token"}
	})
	both.auth.Fail(http.StatusInternalServerError)
	both.advance(2 * time.Hour)
	if !both.a.Ready() {
		t.Fatal("tokens and certificate callers: not ready without the keys, though certificate callers are still served")
	}

	certs, err := New(context.Background(), Config{ClientCertificates: []string{"CN=registry-token"}})
	if err != nil {
		t.Fatal(err)
	}
	if !certs.Ready() {
		t.Fatal("certificate callers only: not ready")
	}
}
