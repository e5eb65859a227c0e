package httpx

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/stellaops/authgate/pkg/testkit/certtest"
)

// writeSelfSigned writes a self-signed certificate and its key as PEM files.
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	certtest.SelfSigned(t, "127.0.0.1", 1).WriteFiles(t, certFile, keyFile)
	return certFile, keyFile
}

func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeSelfSigned(t, dir)
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		cert, key, ca  string
		wantErr        string
		wantClientAuth tls.ClientAuthType
		wantClientCAs  bool
	}{
		{name: "server only", cert: cert, key: key, wantClientAuth: tls.NoClientCert},
		{name: "client CAs", cert: cert, key: key, ca: cert, wantClientAuth: tls.VerifyClientCertIfGiven, wantClientCAs: true},
		{name: "missing key", cert: cert, key: filepath.Join(dir, "absent.key"), wantErr: "certFile/keyFile:"},
		{name: "key is not the certificate's", cert: cert, key: cert, wantErr: "certFile/keyFile:"},
		{name: "missing CA file", cert: cert, key: key, ca: filepath.Join(dir, "absent.pem"), wantErr: "clientCaFile:"},
		{name: "CA file without PEM", cert: cert, key: key, ca: notPEM, wantErr: "clientCaFile: no PEM certificates"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := TLSConfig(tc.cert, tc.key, tc.ca)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.MinVersion != tls.VersionTLS12 || len(c.Certificates) != 1 {
				t.Errorf("MinVersion %x, %d certificates", c.MinVersion, len(c.Certificates))
			}
			if c.ClientAuth != tc.wantClientAuth || (c.ClientCAs != nil) != tc.wantClientCAs {
				t.Errorf("ClientAuth %v, ClientCAs set %v", c.ClientAuth, c.ClientCAs != nil)
			}
		})
	}
}

// secretVolume lays files out as the kubelet does for a Secret volume:
// each version in its own directory, ..data a symlink to the current
// one, and every file name a symlink through ..data. update swaps the
// version atomically.
type secretVolume struct {
	t       *testing.T
	dir     string
	version int
}

func (v *secretVolume) path(name string) string { return filepath.Join(v.dir, name) }

func (v *secretVolume) update(files map[string][]byte) {
	v.t.Helper()
	v.version++
	ver := fmt.Sprintf("..v%d", v.version)
	if err := os.Mkdir(filepath.Join(v.dir, ver), 0o700); err != nil {
		v.t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(v.dir, ver, name), b, 0o600); err != nil {
			v.t.Fatal(err)
		}
		link := filepath.Join(v.dir, name)
		if _, err := os.Lstat(link); err != nil {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				v.t.Fatal(err)
			}
		}
	}
	tmp := filepath.Join(v.dir, "..data_tmp")
	if err := os.Symlink(ver, tmp); err != nil {
		v.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(v.dir, "..data")); err != nil {
		v.t.Fatal(err)
	}
}

// serveTLS accepts connections with cfg on 127.0.0.1 and completes each
// handshake; it returns the address.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := tls.Server(c, cfg)
				_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
				if tc.Handshake() == nil {
					_, _ = tc.Write([]byte("ok"))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// dial completes a handshake trusting roots and presenting client (if
// any), and returns the serial of the server's certificate.
func dial(t *testing.T, addr string, roots *x509.CertPool, client *tls.Certificate) (int64, error) {
	t.Helper()
	cfg := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	if client != nil {
		cfg.Certificates = []tls.Certificate{*client}
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	// TLS 1.3 reports a rejected client certificate on the first read.
	buf := make([]byte, 2)
	if _, err := io.ReadFull(c, buf); err != nil {
		return 0, err
	}
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64(), nil
}

func TestTLSConfigReadsRenewedCertificate(t *testing.T) {
	a, b := certtest.SelfSigned(t, "127.0.0.1", 1), certtest.SelfSigned(t, "127.0.0.1", 2)
	roots := x509.NewCertPool()
	roots.AddCert(a.X509)
	roots.AddCert(b.X509)
	vol := &secretVolume{t: t, dir: t.TempDir()}
	vol.update(map[string][]byte{"tls.crt": a.CertPEM, "tls.key": a.KeyPEM})

	var mu sync.Mutex
	var reports []error
	cfg, err := TLSConfig(vol.path("tls.crt"), vol.path("tls.key"), "",
		WithReloadReport(func(err error) { mu.Lock(); reports = append(reports, err); mu.Unlock() }))
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, cfg)
	if got, err := dial(t, addr, roots, nil); err != nil || got != 1 {
		t.Fatalf("first certificate: serial %d, %v; want 1", got, err)
	}

	vol.update(map[string][]byte{"tls.crt": b.CertPEM, "tls.key": b.KeyPEM})
	if got, err := dial(t, addr, roots, nil); err != nil || got != 2 {
		t.Fatalf("after the Secret update: serial %d, %v; want the renewed certificate 2", got, err)
	}

	// A broken update (the key of another certificate) is not used.
	vol.update(map[string][]byte{"tls.crt": a.CertPEM, "tls.key": b.KeyPEM})
	for range 2 {
		if got, err := dial(t, addr, roots, nil); err != nil || got != 2 {
			t.Fatalf("after a broken update: serial %d, %v; want the previous certificate 2", got, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reports) != 2 || reports[0] != nil || reports[1] == nil || !strings.Contains(reports[1].Error(), "certFile/keyFile") {
		t.Fatalf("reports %v, want [nil, one certFile/keyFile error]", reports)
	}
}

func TestTLSConfigReadsUpdatedClientCAs(t *testing.T) {
	server, ca1, ca2 := certtest.SelfSigned(t, "127.0.0.1", 1), certtest.SelfSigned(t, "127.0.0.1", 10), certtest.SelfSigned(t, "127.0.0.1", 20)
	vol := &secretVolume{t: t, dir: t.TempDir()}
	vol.update(map[string][]byte{"tls.crt": server.CertPEM, "tls.key": server.KeyPEM, "ca.crt": ca1.CertPEM})
	cfg, err := TLSConfig(vol.path("tls.crt"), vol.path("tls.key"), vol.path("ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, cfg)
	if _, err := dial(t, addr, server.Pool(), &ca1.TLS); err != nil {
		t.Fatalf("client certificate of the configured CA refused: %v", err)
	}
	if _, err := dial(t, addr, server.Pool(), &ca2.TLS); err == nil {
		t.Fatal("client certificate of another CA accepted")
	}
	vol.update(map[string][]byte{"tls.crt": server.CertPEM, "tls.key": server.KeyPEM, "ca.crt": ca2.CertPEM})
	if _, err := dial(t, addr, server.Pool(), &ca2.TLS); err != nil {
		t.Fatalf("client certificate of the new CA refused after the update: %v", err)
	}
	if _, err := dial(t, addr, server.Pool(), &ca1.TLS); err == nil {
		t.Fatal("client certificate of the replaced CA still accepted")
	}
	if _, err := dial(t, addr, server.Pool(), nil); err != nil {
		t.Fatalf("a client without a certificate must still connect (VerifyClientCertIfGiven): %v", err)
	}
}

func TestWithReloadLog(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	f := &tlsFiles{}
	WithReloadLog(zap.New(core))(f)
	f.report(nil)
	f.report(errors.New("certFile/keyFile: tls: private key does not match public key"))
	entries := logs.All()
	if len(entries) != 2 || entries[0].Level != zapcore.InfoLevel || entries[1].Level != zapcore.ErrorLevel ||
		!strings.Contains(entries[1].ContextMap()["error"].(string), "does not match") {
		t.Fatalf("log entries %+v", entries)
	}
}
