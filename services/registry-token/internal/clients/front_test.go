package clients

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/plans"
	"github.com/stellaops/authgate/services/registry-token/internal/devstack"
	"github.com/stellaops/authgate/services/registry-token/internal/e2e"
)

// front is the registry and registry-token behind one TLS origin, as an
// ingress serves them: /token goes to registry-token, everything else to
// the registry. The ingress terminates TLS, verifies client certificates
// and forwards the client's in Client-Cert (RFC 9440); registry-token
// believes it from the ingress only (server.trustedProxies).
//
// oras 1.3 presents its client certificate to the registry's own origin
// only, never to a token realm elsewhere: with certificate-bound OpToks it
// needs this layout.
type front struct {
	stack    *e2e.Stack
	registry *devstack.RegistryServer
	srv      *http.Server
	host     string // localhost:port of the ingress
}

var sharedFront struct {
	once sync.Once
	f    *front
	err  error
}

func getFront(t *testing.T) *front {
	t.Helper()
	w := getWorld(t)
	sharedFront.once.Do(func() { sharedFront.f, sharedFront.err = startFront(w) })
	if sharedFront.err != nil {
		t.Fatal(sharedFront.err)
	}
	return sharedFront.f
}

func startFront(w *world) (_ *front, err error) {
	f := &front{}
	defer func() {
		if err != nil {
			f.close()
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f.host = "localhost:" + portOf(ln.Addr())
	dir := filepath.Join(w.dir, "front")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		_ = ln.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f.stack, err = e2e.StartStack(ctx, e2e.StackOptions{
		Dir: dir, Stderr: w.logs, LogLevel: "info", DefaultPlan: "community", TrustedProxies: []string{"127.0.0.1"},
		Plans: map[string][]plans.Rule{"enterprise": {{Repository: "stella-ops/*/*", Actions: []string{"pull", "push"}}}, "community": {}},
	})
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	jwks := filepath.Join(dir, "registry-token.jwks")
	if err := os.WriteFile(jwks, f.stack.JWKS, 0o600); err != nil {
		_ = ln.Close()
		return nil, err
	}
	rln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	f.registry, err = devstack.StartRegistry(context.Background(), rln, devstack.RegistryOptions{
		Realm: "https://" + f.host + "/token", Service: f.stack.Service, Issuer: e2e.SigningIssuer, JWKSFile: jwks,
	})
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	tokenURL, _ := url.Parse(f.stack.PublicURL)
	registryURL := &url.URL{Scheme: "http", Host: rln.Addr().String()}
	toToken, toRegistry := httputil.NewSingleHostReverseProxy(tokenURL), httputil.NewSingleHostReverseProxy(registryURL)
	handler := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		r.Header.Del(dpop.HeaderClientCert) // never from the client
		r.Header.Set("X-Forwarded-Proto", "https")
		if r.URL.Path != "/token" {
			toRegistry.ServeHTTP(rw, r)
			return
		}
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			r.Header.Set(dpop.HeaderClientCert, ":"+base64.StdEncoding.EncodeToString(r.TLS.PeerCertificates[0].Raw)+":")
		}
		toToken.ServeHTTP(rw, r)
	})
	cert, err := tls.LoadX509KeyPair(filepath.Join(w.dir, "server.crt"), filepath.Join(w.dir, "server.key"))
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	ca, err := os.ReadFile(w.caFile)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	f.srv = &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool, MinVersion: tls.VersionTLS12}}
	go func() { _ = f.srv.ServeTLS(ln, "", "") }()
	return f, nil
}

func portOf(a net.Addr) string {
	_, port, _ := net.SplitHostPort(a.String())
	return port
}

// certOpTok mints an OpTok, from the front stack's Authority, bound to
// the client certificate.
func (f *front) certOpTok(t *testing.T, w *world) string {
	t.Helper()
	tok, err := f.stack.Authority.MintMTLS("cert-enterprise", "enterprise", "lic-front", w.thumb, []string{"registry.token.issue"}, []string{"registry"}, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (f *front) close() {
	if f.srv != nil {
		_ = f.srv.Close()
	}
	if f.registry != nil {
		_ = f.registry.Close()
	}
	if f.stack != nil {
		_ = f.stack.Close()
	}
}
