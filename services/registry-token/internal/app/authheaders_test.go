package app_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
	"github.com/stellaops/authgate/pkg/testkit/proctest"
	"github.com/stellaops/authgate/services/registry-token/internal/app"
)

// TestTwoAuthorizationHeadersOnTheWire sends raw HTTP/1.1 requests to a
// running registry-token: a valid OpTok and proof get a token, but not
// beside a second Authorization header, whatever the case of either
// header name (both are the same HTTP field).
func TestTwoAuthorizationHeadersOnTheWire(t *testing.T) {
	dir := t.TempDir()
	a := authoritytest.New(t)
	cfgFile := writeConfig(t, dir, a, writeKey(t, dir, 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.Env{Args: []string{"serve", "--config", cfgFile, "--addr", "127.0.0.1:0"},
			Stdout: io.Discard, Stderr: io.Discard, Listening: func(addr net.Addr) { listening <- addr }})
	}()
	t.Cleanup(func() { cancel(); <-done })
	var addr string
	select {
	case l := <-listening:
		addr = l.String()
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	}
	for get(t, "http://"+addr+"/readyz", nil) != http.StatusOK {
		time.Sleep(20 * time.Millisecond)
	}

	clientKey := authoritytest.NewKey(t)
	jkt, err := dpop.Thumbprint(clientKey)
	if err != nil {
		t.Fatal(err)
	}
	mint := func() string {
		claims := a.Claims("customer-42", time.Now())
		claims["cnf"] = map[string]any{"jkt": jkt}
		return a.Mint(t, claims)
	}
	tok, other := mint(), mint()
	send := func(headers ...string) int {
		t.Helper()
		proof, err := dpop.NewProof(clientKey, "ES256", http.MethodGet, publicURL+"/token", tok, "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		head := "GET /token?service=registry.localhost&scope=repository:stella-ops/public/base:pull HTTP/1.1\r\n" +
			"Host: localhost:8085\r\nDPoP: " + proof
		return proctest.RawStatus(t, addr, head, headers, "")
	}
	if code := send("Authorization: DPoP " + tok); code != http.StatusOK {
		t.Fatalf("one Authorization header: %d", code)
	}
	for name, headers := range proctest.TwoAuthorizationFields(tok, other) {
		if code := send(headers...); code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, code)
		}
	}
}
