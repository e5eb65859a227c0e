package policyclient_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/certtest"
	"github.com/stellaops/authgate/services/registry-token/internal/policyclient"
)

// tlsFlexAuth is a flex-auth stand-in serving HTTPS on 127.0.0.1 with
// httptest's certificate (valid for 127.0.0.1). It answers byResource and
// counts the checks that reached it; protos records r.Proto of each.
type tlsFlexAuth struct {
	srv    *httptest.Server
	hits   atomic.Int64
	protos chan string
}

func newTLSFlexAuth(t *testing.T, configure func(*tls.Config)) *tlsFlexAuth {
	t.Helper()
	f := &tlsFlexAuth{protos: make(chan string, 16)}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		select {
		case f.protos <- r.Proto:
		default:
		}
		if r.Method != http.MethodPost || r.URL.Path != "/v1/check" {
			http.Error(w, "bad route", http.StatusNotFound)
			return
		}
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), `"resource":"quarantine/`) {
			envelope(w, "deny", "repository_quarantined")
			return
		}
		envelope(w, "allow", "registry_access_allowed")
	}))
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_ = f.srv.Listener.Close()
	f.srv.Listener = ln
	f.srv.EnableHTTP2 = true
	// The refused handshakes are the point of some tests, not noise to log.
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if configure != nil {
		f.srv.TLS = &tls.Config{}
		configure(f.srv.TLS)
	}
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	if !strings.HasPrefix(f.srv.URL, "https://127.0.0.1:") {
		t.Fatalf("server URL %s", f.srv.URL)
	}
	return f
}

// roots is a pool holding the server's own (self-signed CA) certificate.
func (f *tlsFlexAuth) roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(f.srv.Certificate())
	return pool
}

// otherCA is a pool holding a freshly made CA that signed nothing the
// server presents.
func otherCA(t *testing.T) *x509.CertPool {
	t.Helper()
	return certtest.SelfSigned(t, "another CA", 7).Pool()
}

func newTLSClient(t *testing.T, url string, roots *x509.CertPool) *policyclient.Client {
	t.Helper()
	c, err := policyclient.New(policyclient.Config{URL: url, Timeout: 5 * time.Second, Concurrency: 2, RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// With the CA that signed flex-auth's certificate the checks are answered
// over HTTPS (HTTP/2, as the transport still negotiates it).
func TestTLSWithPrivateCA(t *testing.T) {
	fa := newTLSFlexAuth(t, nil)
	c := newTLSClient(t, fa.srv.URL, fa.roots())
	got, err := c.CheckAll(context.Background(), []policyclient.Check{pull("stella-ops/public/a"), pull("quarantine/x")})
	if err != nil {
		t.Fatal(err)
	}
	if !got[0].Allowed() || got[1].Effect != policyclient.EffectDeny || got[1].Reason != "repository_quarantined" ||
		!strings.HasPrefix(got[0].ID, "decision:") || !strings.HasPrefix(got[1].ID, "decision:") {
		t.Fatalf("decisions %+v", got)
	}
	if n := fa.hits.Load(); n != 2 {
		t.Fatalf("%d checks reached flex-auth, want 2", n)
	}
	if p := <-fa.protos; p != "HTTP/2.0" {
		t.Errorf("protocol %s, want HTTP/2.0", p)
	}
}

// A server certificate that does not verify is an outage (unavailable):
// no trusted connection, so no decision, and nothing reaches flex-auth.
func TestTLSUntrustedServerIsUnavailable(t *testing.T) {
	cases := []struct {
		name  string
		roots func(t *testing.T, fa *tlsFlexAuth) *x509.CertPool
	}{
		{name: "system roots", roots: func(*testing.T, *tlsFlexAuth) *x509.CertPool { return nil }},
		{name: "another CA", roots: func(t *testing.T, _ *tlsFlexAuth) *x509.CertPool { return otherCA(t) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fa := newTLSFlexAuth(t, nil)
			c := newTLSClient(t, fa.srv.URL, tc.roots(t, fa))
			d, err := c.Check(context.Background(), pull("stella-ops/public/a"))
			checkUntrusted(t, d, err)
			got, err := c.CheckAll(context.Background(), []policyclient.Check{pull("stella-ops/public/a"), pull("quarantine/x")})
			for _, d := range got {
				if d.Known() {
					t.Errorf("decision %+v from an untrusted server", d)
				}
			}
			checkUntrusted(t, policyclient.Decision{}, err)
			if n := fa.hits.Load(); n != 0 {
				t.Fatalf("%d checks reached the untrusted server", n)
			}
		})
	}
}

func checkUntrusted(t *testing.T, d policyclient.Decision, err error) {
	t.Helper()
	if !errors.Is(err, policyclient.ErrUnavailable) {
		t.Fatalf("error %v, want ErrUnavailable", err)
	}
	if errors.Is(err, policyclient.ErrTimeout) || errors.Is(err, policyclient.ErrInvalidResponse) {
		t.Fatalf("error %v matches another outage kind", err)
	}
	if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("error %v does not name the certificate", err)
	}
	if d.Known() {
		t.Fatalf("decision %+v", d)
	}
}

// The transport refuses TLS below 1.2 even with the right CA.
func TestTLSBelow12IsUnavailable(t *testing.T) {
	fa := newTLSFlexAuth(t, func(c *tls.Config) {
		c.MinVersion = tls.VersionTLS10
		c.MaxVersion = tls.VersionTLS11
	})
	c := newTLSClient(t, fa.srv.URL, fa.roots())
	_, err := c.Check(context.Background(), pull("stella-ops/public/a"))
	if !errors.Is(err, policyclient.ErrUnavailable) || errors.Is(err, policyclient.ErrTimeout) {
		t.Fatalf("error %v, want ErrUnavailable", err)
	}
	if n := fa.hits.Load(); n != 0 {
		t.Fatalf("%d checks reached the server", n)
	}
	if v := policyclient.NewTransport(1).TLSClientConfig.MinVersion; v != tls.VersionTLS12 {
		t.Fatalf("transport MinVersion %x", v)
	}
}

// RootCAs change nothing for an http:// URL.
func TestPlainHTTPWithRootCAs(t *testing.T) {
	fa := newFlexAuth(t, byResource)
	if !strings.HasPrefix(fa.srv.URL, "http://127.0.0.1:") {
		t.Fatalf("server URL %s", fa.srv.URL)
	}
	for _, roots := range []*x509.CertPool{nil, otherCA(t)} {
		c := newTLSClient(t, fa.srv.URL, roots)
		d, err := c.Check(context.Background(), pull("stella-ops/public/a"))
		if err != nil || !d.Allowed() {
			t.Fatalf("roots %v: %+v, %v", roots != nil, d, err)
		}
	}
	if len(fa.requests) != 2 {
		t.Fatalf("%d requests, want 2", len(fa.requests))
	}
}
