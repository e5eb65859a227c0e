package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	_ "github.com/distribution/distribution/v3/registry/auth/token" // registers auth "token"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory" // registers storage "inmemory"
)

// startRegistry runs the distribution registry in-process with in-memory
// storage and token auth trusting the stack's JWKS (written to a file, as
// an operator would mount the output of "registry-token jwks"). It returns
// the registry's host:port on 127.0.0.1.
func startRegistry(t *testing.T, s *Stack) string {
	t.Helper()
	jwksFile := filepath.Join(t.TempDir(), "registry-token.jwks")
	if err := os.WriteFile(jwksFile, s.JWKS, 0o600); err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	cfg := &configuration.Configuration{Version: "0.1"}
	cfg.Log.Level = "error"
	cfg.Log.AccessLog.Disabled = true
	cfg.HTTP.Secret = hex.EncodeToString(secret)
	cfg.Catalog.MaxEntries = 1000 // the YAML default; go-containerregistry asks for n=1000
	cfg.Storage = configuration.Storage{
		"inmemory": configuration.Parameters{},
		"delete":   configuration.Parameters{"enabled": true},
	}
	cfg.Auth = configuration.Auth{"token": configuration.Parameters{
		"realm":   s.Realm,
		"service": s.Service,
		"issuer":  SigningIssuer,
		"jwks":    jwksFile,
	}}
	ctx, cancel := context.WithCancel(context.Background())
	app := handlers.NewApp(ctx, cfg)
	srv := httptest.NewServer(app)
	t.Cleanup(func() {
		srv.Close()
		cancel()
	})
	return strings.TrimPrefix(srv.URL, "http://")
}
