package app

import (
	"crypto/tls"
	"fmt"

	"go.uber.org/zap"

	"github.com/stellaops/authgate/pkg/httpx"
	"github.com/stellaops/authgate/services/registry-token/internal/config"
)

// tlsConfig loads the server certificate and, with clientCaFile, requests
// client certificates and verifies any presented one against those CAs.
// A certificate is optional at the TLS layer: DPoP-bound callers need
// none, and an mTLS-bound token without one is refused by the handler.
//
// The files are read again when they change; reloads are logged on log.
func tlsConfig(t config.TLS, log *zap.Logger) (*tls.Config, error) {
	c, err := httpx.TLSConfig(t.CertFile, t.KeyFile, t.ClientCAFile, httpx.WithReloadLog(log))
	if err != nil {
		return nil, fmt.Errorf("server.tls.%w", err)
	}
	return c, nil
}
