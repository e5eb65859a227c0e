package app

import (
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
	"github.com/stellaops/authgate/pkg/testkit/redistest"
)

// TestProofReplayedOnAnotherReplica (finding: a proof used on one replica
// was accepted by another): two flex-auth replicas sharing the Redis
// replay cache refuse on B a proof already used on A.
func TestProofReplayedOnAnotherReplica(t *testing.T) {
	rd := redistest.Start(t)
	auth := authoritytest.New(t)
	publicURL := "https://flex-auth.example.com"
	cfg := writeAuthConfig(t, auth.Issuer, publicURL)
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("  replayCache:\n    backend: redis\n    redisUrl: " + rd.URL() + "\n")
	_ = f.Close()
	a, b := start(t, "--config", cfg), start(t, "--config", cfg)
	a.waitReady(t)
	b.waitReady(t)

	client := authoritytest.NewKey(t)
	jkt, err := dpop.Thumbprint(client)
	if err != nil {
		t.Fatal(err)
	}
	tok := token(t, auth, "flex-auth.check", map[string]any{"jkt": jkt})
	proof, err := dpop.NewProof(client, "ES256", "POST", publicURL+"/v1/check", tok, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if code := send(t, a.url, tok, proof); code != http.StatusOK {
		t.Fatalf("replica A: %d", code)
	}
	if code := send(t, b.url, tok, proof); code != http.StatusUnauthorized {
		t.Fatalf("the same proof on replica B: %d, want 401", code)
	}
}
