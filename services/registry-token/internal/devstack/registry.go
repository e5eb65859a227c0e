package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	_ "github.com/distribution/distribution/v3/registry/auth/token" // registers auth "token"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem" // registers storage "filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"   // registers storage "inmemory"
)

// RegistryOptions configures the in-process distribution registry.
type RegistryOptions struct {
	// Realm is registry-token's token URL, Service the service name in the
	// challenge and Issuer the iss of registry tokens (signing.issuer).
	Realm, Service, Issuer string
	// JWKSFile holds the public keys of registry-token (its /jwks.json or
	// "registry-token jwks"), the registry's auth.token.jwks.
	JWKSFile string
	// StorageDir, when set, keeps the content in that directory
	// (filesystem driver), so that several registries can serve the same
	// content, as replicas rolled one after another do; empty: in memory.
	StorageDir string
}

// RegistryServer is a running distribution registry.
type RegistryServer struct {
	// Host is "localhost:<port>", the name clients use.
	Host string

	srv    *http.Server
	cancel context.CancelFunc
}

// StartRegistry serves the distribution registry v3 on ln with in-memory
// storage (everything is lost when it stops; o.StorageDir keeps it in a
// directory instead) and token authentication
// trusting the keys in o.JWKSFile. Close stops it.
func StartRegistry(ctx context.Context, ln net.Listener, o RegistryOptions) (*RegistryServer, error) {
	if _, err := os.Stat(o.JWKSFile); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("registry auth.token.jwks: %w", err)
	}
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		_ = ln.Close()
		return nil, err
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
	if o.StorageDir != "" {
		cfg.Storage = configuration.Storage{
			"filesystem": configuration.Parameters{"rootdirectory": o.StorageDir},
			"delete":     configuration.Parameters{"enabled": true},
		}
	}
	cfg.Auth = configuration.Auth{"token": configuration.Parameters{
		"realm":   o.Realm,
		"service": o.Service,
		"issuer":  o.Issuer,
		"jwks":    o.JWKSFile,
	}}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	app := handlers.NewApp(rctx, cfg)
	s := &RegistryServer{
		Host:   fmt.Sprintf("localhost:%d", ln.Addr().(*net.TCPAddr).Port),
		srv:    &http.Server{Handler: app, ReadHeaderTimeout: 5 * time.Second},
		cancel: cancel,
	}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the registry.
func (s *RegistryServer) Close() error {
	err := s.srv.Close()
	s.cancel()
	return err
}
