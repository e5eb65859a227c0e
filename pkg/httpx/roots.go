package httpx

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"
)

// AuthorityClient returns the HTTP client of OIDC discovery and JWKS
// fetches (timeout bounds one request). With caFile, the servers are
// verified against the system roots plus the CA certificates in that PEM
// file (an Authority behind a private CA; public hosts it names, such as a
// CDN serving the JWKS, still verify). The file is read again when it
// changes (each request compares its identity, size and modification
// time): a changed file that does not load is not used, the previous
// roots keep serving and report is called once per distinct error (nil
// when a new file serves). Errors name caFile for the caller to prefix
// with its config section.
func AuthorityClient(caFile string, timeout time.Duration, report func(error)) (*http.Client, error) {
	if caFile == "" {
		return &http.Client{Timeout: timeout}, nil
	}
	r := &rootsTransport{path: caFile, report: report}
	stamp := statFile(caFile)
	rt, err := r.load()
	if err != nil {
		return nil, err
	}
	r.rt, r.stamp = rt, stamp
	return &http.Client{Timeout: timeout, Transport: r}, nil
}

// rootsTransport is an http.Transport whose root CAs come from a file,
// rebuilt when the file changes.
type rootsTransport struct {
	path   string
	report func(error)

	mu      sync.Mutex
	rt      *http.Transport
	stamp   os.FileInfo
	lastErr string
}

func statFile(p string) os.FileInfo {
	fi, err := os.Stat(p)
	if err != nil {
		return nil
	}
	return fi
}

// load builds a transport trusting the system roots and the file's CAs.
func (r *rootsTransport) load() (*http.Transport, error) {
	pemBytes, err := os.ReadFile(r.path)
	if err != nil {
		return nil, fmt.Errorf("caFile: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("caFile: no PEM certificates in %s", r.path)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	return t, nil
}

// current returns the transport, rebuilt first if the file changed.
func (r *rootsTransport) current() *http.Transport {
	stamp := statFile(r.path)
	r.mu.Lock()
	defer r.mu.Unlock()
	if sameVersion(stamp, r.stamp) {
		return r.rt
	}
	t, err := r.load()
	if err != nil {
		if r.report != nil && err.Error() != r.lastErr {
			r.report(err)
		}
		r.lastErr = err.Error()
		return r.rt
	}
	r.rt.CloseIdleConnections()
	r.rt, r.stamp, r.lastErr = t, stamp, ""
	if r.report != nil {
		r.report(nil)
	}
	return r.rt
}

// RoundTrip implements http.RoundTripper.
func (r *rootsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return r.current().RoundTrip(req)
}
