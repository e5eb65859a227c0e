package httpx

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/certtest"
)

// TestAuthorityClientTrustsCAFile (finding: trusting an Authority behind a
// private CA needed SSL_CERT_FILE, which replaces the system roots): with
// a CA file the client verifies a real TLS server certificate issued by
// that CA, and keeps the system roots; without it the server is refused;
// a replaced file is used from the next request on, and one that does not
// load keeps the previous CAs and is reported.
func TestAuthorityClientTrustsCAFile(t *testing.T) {
	ca1, ca2 := certtest.SelfSigned(t, "private CA 1", 1), certtest.SelfSigned(t, "private CA 2", 2)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("{}")) }))
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{ca1.TLS}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	get := func(c *http.Client) error {
		resp, err := c.Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}

	plain, err := AuthorityClient("", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	if get(plain) == nil {
		t.Fatal("without caFile a server of a private CA was trusted")
	}

	caFile := filepath.Join(t.TempDir(), "ca.pem")
	ca1.WriteFiles(t, caFile, "")
	var reports []error
	c, err := AuthorityClient(caFile, time.Minute, func(err error) { reports = append(reports, err) })
	if err != nil {
		t.Fatal(err)
	}
	if err := get(c); err != nil {
		t.Fatalf("with caFile: %v", err)
	}
	if sys, err := x509.SystemCertPool(); err == nil && !sys.Equal(x509.NewCertPool()) {
		if tr := c.Transport.(*rootsTransport).current(); tr.TLSClientConfig.RootCAs.Equal(ca1.Pool()) {
			t.Fatal("the CA file replaced the system roots instead of adding to them")
		}
	}

	// A file that does not load: the previous CAs keep serving, reported once.
	writeFile(t, caFile, "not a certificate")
	for range 2 {
		if err := get(c); err != nil {
			t.Fatalf("after a broken caFile: %v", err)
		}
	}
	if len(reports) != 1 || reports[0] == nil {
		t.Fatalf("reports %v, want one error", reports)
	}

	// Another CA: the server of CA 1 is no longer trusted.
	replace(t, caFile, ca2.CertPEM)
	if err := get(c); err == nil {
		t.Fatal("after the CA file changed to another CA, the old CA's server was still trusted")
	}
	if len(reports) != 2 || reports[1] != nil {
		t.Fatalf("reports %v, want the new file reported as serving", reports)
	}

	// Start-up errors name caFile.
	for _, bad := range []string{filepath.Join(t.TempDir(), "missing.pem"), writeTemp(t, "garbage")} {
		if _, err := AuthorityClient(bad, time.Minute, nil); err == nil || !strings.HasPrefix(err.Error(), "caFile:") {
			t.Errorf("%s: err = %v, want a caFile error", bad, err)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	replace(t, path, []byte(content))
}

// replace writes content to a new file renamed over path (a new inode:
// the change is seen whatever the clock's resolution).
func replace(t *testing.T, path string, content []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.pem")
	writeFile(t, p, content)
	return p
}
