package devstack

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/stellaops/authgate/services/registry-token/internal/devauthority"
)

// AuthorityServer is the development Authority served over HTTP.
type AuthorityServer struct {
	*devauthority.Authority
	// URL is the issuer and base URL ("http://127.0.0.1:8081").
	URL string

	srv    *http.Server
	cancel context.CancelFunc
}

// StartAuthority serves a development Authority on ln (its issuer is
// "http://" + ln's address) with DPoP-bound token minting. Its keys live
// only in memory. Close stops it.
func StartAuthority(ctx context.Context, ln net.Listener) (*AuthorityServer, error) {
	return StartAuthorityAt(ctx, ln, "http://"+ln.Addr().String())
}

// StartAuthorityAt is StartAuthority with the issuer URL under which
// clients reach ln (a Service name in a cluster).
func StartAuthorityAt(ctx context.Context, ln net.Listener, url string) (*AuthorityServer, error) {
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	verify, err := devauthority.NewDPoPVerifier(actx, url)
	if err != nil {
		cancel()
		_ = ln.Close()
		return nil, err
	}
	a, err := devauthority.New(devauthority.Options{Issuer: url, VerifyProof: verify})
	if err != nil {
		cancel()
		_ = ln.Close()
		return nil, err
	}
	s := &AuthorityServer{Authority: a, URL: url, cancel: cancel,
		srv: &http.Server{Handler: a, ReadHeaderTimeout: 5 * time.Second}}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the server.
func (s *AuthorityServer) Close() error {
	err := s.srv.Close()
	s.cancel()
	return err
}
