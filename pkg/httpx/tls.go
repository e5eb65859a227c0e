package httpx

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"

	"go.uber.org/zap"
)

// TLSOption adjusts TLSConfig.
type TLSOption func(*tlsFiles)

// WithReloadReport calls report when changed files were read again: with
// nil when the new set is serving, with the error when it could not be
// loaded and the previous set keeps serving (each distinct error once,
// although every handshake tries again).
func WithReloadReport(report func(error)) TLSOption {
	return func(f *tlsFiles) { f.report = report }
}

// WithReloadLog logs every reload WithReloadReport would report: an info
// line when new files serve, an error when they do not load.
func WithReloadLog(log *zap.Logger) TLSOption {
	return WithReloadReport(LogReloads(log, "TLS files"))
}

// LogReloads returns a reload report that logs, for the files named what,
// an info line when the new files serve and an error when they do not
// load and the previous ones keep serving.
func LogReloads(log *zap.Logger, what string) func(error) {
	return func(err error) {
		if err != nil {
			log.Error(what+" changed but do not load; the previous ones keep serving", zap.Error(err))
			return
		}
		log.Info(what + " changed; serving the new ones")
	}
}

// TLSConfig loads the server certificate (TLS 1.2 or later) and, when
// clientCAFile is not empty, requests client certificates and verifies any
// presented one against the CAs in that PEM file. A client certificate
// stays optional at the TLS layer (tls.VerifyClientCertIfGiven): callers
// that need one (a certificate-bound token) are refused by the handler.
// Errors name the key of the file at fault (certFile, keyFile,
// clientCaFile) for the caller to prefix with its config section.
//
// The files are read again when they change (a renewed certificate, a
// Kubernetes Secret volume update): each handshake compares their
// identity, size and modification time with those of the set in use. A
// changed set that does not load (a key that does not match, a CA file
// without certificates) is not used: the previous set keeps serving and
// the next handshake tries again.
func TLSConfig(certFile, keyFile, clientCAFile string, opts ...TLSOption) (*tls.Config, error) {
	f := &tlsFiles{paths: []string{certFile, keyFile}, clientCA: clientCAFile != ""}
	if f.clientCA {
		f.paths = append(f.paths, clientCAFile)
	}
	c, err := f.open(opts)
	if err != nil {
		return nil, err
	}
	out := c.Clone()
	out.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return f.config(), nil }
	return out, nil
}

// open applies opts and loads the files for the first time.
func (f *tlsFiles) open(opts []TLSOption) (*tls.Config, error) {
	for _, o := range opts {
		o(f)
	}
	stamps := f.stat()
	c, err := f.load()
	if err != nil {
		return nil, err
	}
	f.current, f.stamps = c, stamps
	return c, nil
}

// tlsFiles is the certificate, key and optional client CA bundle behind a
// server's TLS configuration, and the configuration built from them.
type tlsFiles struct {
	paths    []string // certFile, keyFile[, clientCaFile]
	clientCA bool
	report   func(error)

	mu      sync.Mutex
	current *tls.Config
	stamps  []os.FileInfo // of the files current was read from
	lastErr string        // of the last reload, reported once
}

// stat describes each file as it is now (nil where it cannot be read).
func (f *tlsFiles) stat() []os.FileInfo {
	out := make([]os.FileInfo, len(f.paths))
	for i, p := range f.paths {
		if fi, err := os.Stat(p); err == nil {
			out[i] = fi
		}
	}
	return out
}

// sameVersion reports whether a and b describe the same version of a file.
func sameVersion(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// config returns the configuration for a handshake, after loading the
// files again if any of them changed since the set in use was read.
func (f *tlsFiles) config() *tls.Config {
	stamps := f.stat()
	f.mu.Lock()
	defer f.mu.Unlock()
	changed := false
	for i := range stamps {
		if !sameVersion(stamps[i], f.stamps[i]) {
			changed = true
		}
	}
	if !changed {
		return f.current
	}
	c, err := f.load()
	if err == nil {
		f.current, f.stamps = c, stamps
		f.lastErr = ""
		if f.report != nil {
			f.report(nil)
		}
		return f.current
	}
	if f.report != nil && err.Error() != f.lastErr {
		f.report(err)
	}
	f.lastErr = err.Error()
	return f.current
}

// load reads the files into a configuration (without GetConfigForClient).
func (f *tlsFiles) load() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(f.paths[0], f.paths[1])
	if err != nil {
		return nil, fmt.Errorf("certFile/keyFile: %w", err)
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if !f.clientCA {
		return c, nil
	}
	pemBytes, err := os.ReadFile(f.paths[2])
	if err != nil {
		return nil, fmt.Errorf("clientCaFile: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("clientCaFile: no PEM certificates in %s", f.paths[2])
	}
	c.ClientCAs = pool
	c.ClientAuth = tls.VerifyClientCertIfGiven
	return c, nil
}
