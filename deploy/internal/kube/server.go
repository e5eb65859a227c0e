package kube

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Server is a running kube-apiserver with its etcd.
type Server struct {
	// URL is the API server's https URL on 127.0.0.1.
	URL string
	// Token authenticates as an administrator (group system:masters).
	Token string
	// CAFile holds the API server's self-signed serving certificate.
	CAFile string
	// Kubeconfig is a kubeconfig file for helm.
	Kubeconfig string

	client *http.Client
	procs  []*exec.Cmd
	logs   []*bytes.Buffer
}

// Start runs etcd and kube-apiserver in dir (their data, keys and
// certificates) on free 127.0.0.1 ports and waits until /readyz answers,
// for at most timeout.
func Start(ctx context.Context, tools Tools, dir string, timeout time.Duration) (*Server, error) {
	token, err := randomHex(16)
	if err != nil {
		return nil, err
	}
	if err := writeFiles(dir, token); err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	client, peer, api := ports[0], ports[1], ports[2]
	s := &Server{URL: "https://127.0.0.1:" + strconv.Itoa(api), Token: token,
		CAFile: filepath.Join(dir, "certs", "apiserver.crt"), Kubeconfig: filepath.Join(dir, "kubeconfig")}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(client)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peer)
	if err := s.spawn(tools.Etcd, "--name", "default", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "default="+peerURL, "--unsafe-no-fsync", "--log-level", "warn"); err != nil {
		return nil, err
	}
	if err := s.spawn(tools.APIServer, "--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", strconv.Itoa(api),
		"--cert-dir", filepath.Join(dir, "certs"), "--token-auth-file", filepath.Join(dir, "tokens.csv"),
		"--authorization-mode", "RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", filepath.Join(dir, "sa.pub"),
		"--service-account-signing-key-file", filepath.Join(dir, "sa.key"),
		"--service-cluster-ip-range", "10.96.0.0/16"); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.waitReady(ctx, timeout); err != nil {
		s.Close()
		return nil, err
	}
	return s, os.WriteFile(s.Kubeconfig, []byte(kubeconfig(s)), 0o600)
}

func (s *Server) spawn(bin string, args ...string) error {
	cmd := exec.Command(bin, args...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	// Stopped with the test process if it dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", filepath.Base(bin), err)
	}
	s.procs, s.logs = append(s.procs, cmd), append(s.logs, &logs)
	return nil
}

func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		// The serving certificate is written at start-up; until then the
		// client cannot be built.
		if s.client == nil {
			if c, err := httpClient(s.CAFile); err == nil {
				s.client = c
			}
		}
		if s.client != nil {
			if code, _, err := s.do(ctx, http.MethodGet, "/readyz", "", nil); err == nil && code == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kube-apiserver not ready after %v:\n%s", timeout, s.Logs())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Logs returns what etcd and kube-apiserver printed (the last 8 KiB each).
func (s *Server) Logs() string {
	var b bytes.Buffer
	for i, l := range s.logs {
		out := l.Bytes()
		if len(out) > 8<<10 {
			out = out[len(out)-8<<10:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", filepath.Base(s.procs[i].Path), out)
	}
	return b.String()
}

// Close stops kube-apiserver, then etcd.
func (s *Server) Close() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		p := s.procs[i]
		_ = p.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.Process.Kill()
			<-done
		}
	}
	s.procs = nil
}

func writeFiles(dir, token string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"sa.key":     pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		"sa.pub":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
		"tokens.csv": []byte(token + `,admin,admin,"system:masters"` + "\n"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func kubeconfig(s *Server) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
  - name: local
    cluster: {server: %q, certificate-authority: %q}
users:
  - name: admin
    user: {token: %q}
contexts:
  - name: local
    context: {cluster: local, user: admin}
current-context: local
`, s.URL, s.CAFile, s.Token)
}

func httpClient(caFile string) (*http.Client, error) {
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, errors.New("no certificate in " + caFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
