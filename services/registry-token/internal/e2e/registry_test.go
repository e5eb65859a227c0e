package e2e

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stellaops/authgate/services/registry-token/internal/devstack"
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	r, err := devstack.StartRegistry(context.Background(), ln, devstack.RegistryOptions{
		Realm: s.Realm, Service: s.Service, Issuer: SigningIssuer, JWKSFile: jwksFile,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return addr
}
