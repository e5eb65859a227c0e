package httpx

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/certtest"
)

// connFixture is a TLS server (client certificates verified if given) on
// NewServer with a settable clock, and a keep-alive client presenting a
// certificate valid for the next hour.
type connFixture struct {
	url    string
	now    atomic.Int64
	client *http.Client
}

func newConnFixture(t *testing.T, maxAge time.Duration) *connFixture {
	t.Helper()
	f := &connFixture{}
	f.now.Store(time.Now().UnixNano())
	dir := t.TempDir()
	srvCert, cliCert := certtest.SelfSigned(t, "server", 1), certtest.SelfSigned(t, "caller", 2)
	srvCert.WriteFiles(t, filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	cliCert.WriteFiles(t, filepath.Join(dir, "ca.crt"), "")
	tc, err := TLSConfig(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) > 0 && len(r.TLS.VerifiedChains) > 0 {
			_, _ = w.Write([]byte("certificate"))
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	})
	srv := NewServer(h, Limits{MaxConnectionAge: maxAge, Now: func() time.Time { return time.Unix(0, f.now.Load()) },
		ReadHeaderTimeout: time.Minute, IdleTimeout: time.Minute})
	srv.TLSConfig = tc
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, srv, ln, time.Second, nil) }()
	t.Cleanup(func() { cancel(); <-done })
	f.url = "https://" + ln.Addr().String()
	f.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12,
		RootCAs: srvCert.Pool(), Certificates: []tls.Certificate{cliCert.TLS}}}}
	t.Cleanup(f.client.CloseIdleConnections)
	return f
}

func (f *connFixture) advance(d time.Duration) { f.now.Add(int64(d)) }

// get returns the status, whether the server closes the connection after
// the answer, and whether the request went on a reused connection.
func (f *connFixture) get(t *testing.T) (status int, closing, reused bool) {
	t.Helper()
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }})
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.url, nil)
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Close, reused
}

// TestClientCertificateCheckedOnEveryRequest (finding: a certificate
// caller stayed authenticated for the life of a keep-alive connection):
// once the client certificate has expired, a request on the connection
// opened while it was valid is served as without a certificate, and the
// connection is closed after it.
func TestClientCertificateCheckedOnEveryRequest(t *testing.T) {
	f := newConnFixture(t, 0)
	if status, closing, _ := f.get(t); status != http.StatusOK || closing {
		t.Fatalf("valid certificate: %d, closing %v", status, closing)
	}
	f.advance(30 * time.Minute)
	if status, closing, reused := f.get(t); status != http.StatusOK || closing || !reused {
		t.Fatalf("still valid, kept alive: %d, closing %v, reused %v", status, closing, reused)
	}
	f.advance(time.Hour) // past NotAfter (an hour after the certificate was made)
	status, closing, reused := f.get(t)
	if !reused {
		t.Fatal("the test meant to reuse the connection of the valid certificate")
	}
	if status != http.StatusUnauthorized || !closing {
		t.Fatalf("expired certificate on a kept-alive connection: %d, closing %v; want it served as without one and the connection closed", status, closing)
	}
	// Not yet valid counts the same.
	f.advance(-3 * time.Hour)
	if status, _, _ := f.get(t); status != http.StatusUnauthorized {
		t.Fatalf("certificate not yet valid: %d", status)
	}
}

// TestMaxConnectionAge (finding: a rotated client CA never applied to
// connections kept alive): a request on a connection older than
// MaxConnectionAge is answered with Connection: close, and the next one
// goes on a new connection (a new handshake).
func TestMaxConnectionAge(t *testing.T) {
	f := newConnFixture(t, 10*time.Minute)
	if _, closing, _ := f.get(t); closing {
		t.Fatal("a new connection is closed")
	}
	f.advance(9 * time.Minute)
	if _, closing, reused := f.get(t); closing || !reused {
		t.Fatalf("at 9m: closing %v, reused %v; want kept alive", closing, reused)
	}
	f.advance(time.Minute)
	if status, closing, reused := f.get(t); status != http.StatusOK || !closing || !reused {
		t.Fatalf("at 10m: %d, closing %v, reused %v; want served, then closed", status, closing, reused)
	}
	if _, closing, reused := f.get(t); reused || closing {
		t.Fatalf("after the close: reused %v, closing %v; want a new connection", reused, closing)
	}
}
