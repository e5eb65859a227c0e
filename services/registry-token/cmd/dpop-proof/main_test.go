package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/authgate/pkg/dpop"
)

// TestProofVerifies: the printed proof passes registry-token's verifier
// for the same method, URL, access token and key thumbprint.
func TestProofVerifies(t *testing.T) {
	key := filepath.Join(t.TempDir(), "client.jwk")
	var jkt, errOut bytes.Buffer
	if err := run([]string{"--key", key, "--jkt"}, &jkt, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "created client key") {
		t.Errorf("no creation notice: %q", errOut.String())
	}
	var out bytes.Buffer
	args := []string{"--key", key, "--url", "http://localhost:8085/token?service=x", "--access-token", "optok"}
	if err := run(args, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := dpop.NewVerifier(dpop.Config{PublicBaseURL: "http://localhost:8085", Replay: dpop.NewMemoryReplayCache(ctx, dpop.MemoryOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest(http.MethodGet, "http://localhost:8085/token?service=x", nil)
	r.Header.Set("DPoP", strings.TrimSpace(out.String()))
	req := dpop.FromHTTP(r)
	req.AccessToken, req.TokenJKT = "optok", strings.TrimSpace(jkt.String())
	if _, err := v.Verify(ctx, req); err != nil {
		t.Fatalf("proof rejected: %v", err)
	}
	req.AccessToken = "other"
	if _, err := v.Verify(ctx, req); err == nil {
		t.Fatal("proof accepted for another access token")
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"--bogus"}, {"--url", "http://x/", "extra"}} {
		if err := run(args, &bytes.Buffer{}, &bytes.Buffer{}); !errors.Is(err, errUsage) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}
