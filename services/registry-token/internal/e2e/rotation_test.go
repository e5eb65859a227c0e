package e2e

import (
	"net/http"
	"testing"
	"time"
)

// TestAuthorityKeyRotation rotates the Authority's signing key (dropping
// the old one). registry-token must pick up the new kid through its
// rate-limited refresh on an unknown kid, and then refuse tokens signed
// with the removed key, including one it had verified (and may have
// cached) before the rotation.
func TestAuthorityKeyRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	a := e.stack.Authority
	q := scopeQuery(e.stack.Service, "repository:stella-ops/public/base:pull")
	k := newClientKey(t)
	oldTok := e.opTok(t, planCommunity, "lic-1", k) // never presented before the rotation
	usedTok := e.opTok(t, planCommunity, "lic-1", k)
	wantStatus(t, e.getToken(t, "DPoP "+usedTok, []string{e.proof(t, k, usedTok)}, q), http.StatusOK)

	if _, err := a.Rotate(true); err != nil {
		t.Fatal(err)
	}
	newTok := e.opTok(t, planCommunity, "lic-1", k)

	// The service refreshes on an unknown kid at most once per gap (10 s
	// after its start-up fetch), so poll until the new kid is accepted.
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		r := e.getToken(t, "DPoP "+newTok, []string{e.proof(t, k, newTok)}, q)
		if r.Status == http.StatusOK {
			break
		}
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("token with the new kid: status %d: %s", r.Status, r.Raw)
		}
		if time.Now().After(deadline) {
			t.Fatal("registry-token never accepted the rotated key")
		}
		<-tick.C
	}
	wantStatus(t, e.getToken(t, "DPoP "+oldTok, []string{e.proof(t, k, oldTok)}, q), http.StatusUnauthorized)
	wantStatus(t, e.getToken(t, "DPoP "+usedTok, []string{e.proof(t, k, usedTok)}, q), http.StatusUnauthorized)
}
