package httpx_test

import (
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/httpx"
	"github.com/stellaops/authgate/pkg/testkit/certtest"
)

// TestClientCertificateReload: a renewed client certificate is presented
// at the next handshake; a broken pair keeps the previous one.
func TestClientCertificateReload(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	first, second := certtest.SelfSigned(t, "client-1", 1), certtest.SelfSigned(t, "client-2", 2)
	first.WriteFiles(t, certPath, keyPath)
	var reports []error
	get, err := httpx.ClientCertificate(certPath, keyPath, httpx.WithReloadReport(func(err error) { reports = append(reports, err) }))
	if err != nil {
		t.Fatal(err)
	}
	serial := func() int64 {
		t.Helper()
		c, err := get(&tls.CertificateRequestInfo{})
		if err != nil || c.Leaf == nil && len(c.Certificate) == 0 {
			t.Fatalf("no certificate: %v", err)
		}
		leaf := c.Leaf
		if leaf == nil {
			t.Fatal("certificate without a parsed leaf")
		}
		return leaf.SerialNumber.Int64()
	}
	if s := serial(); s != 1 {
		t.Fatalf("serial %d, want 1", s)
	}
	second.WriteFiles(t, certPath, keyPath)
	bump(t, certPath, keyPath)
	if s := serial(); s != 2 {
		t.Fatalf("after renewal: serial %d, want 2", s)
	}
	if err := os.WriteFile(keyPath, first.KeyPEM, 0o600); err != nil { // key of another certificate
		t.Fatal(err)
	}
	bump(t, keyPath)
	if s := serial(); s != 2 || len(reports) != 2 || reports[1] == nil {
		t.Fatalf("mismatched pair: serial %d, reports %v; want 2 and one error", s, reports)
	}
	if _, err := httpx.ClientCertificate(filepath.Join(dir, "missing.crt"), keyPath); err == nil || errors.Is(err, nil) {
		t.Fatal("a missing certificate file loaded")
	}
}

// bump moves the modification time of files forward so a rewrite within
// the file system's timestamp granularity still counts as a change.
func bump(t *testing.T, files ...string) {
	t.Helper()
	later := time.Now().Add(time.Hour)
	for _, f := range files {
		if err := os.Chtimes(f, later, later); err != nil {
			t.Fatal(err)
		}
	}
}
