package clients

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/stellaops/authgate/pkg/plans"
	"github.com/stellaops/authgate/pkg/testkit/proctest"
	"github.com/stellaops/authgate/services/registry-token/internal/devauthority"
	"github.com/stellaops/authgate/services/registry-token/internal/devstack"
	"github.com/stellaops/authgate/services/registry-token/internal/e2e"
)

func TestMain(m *testing.M) {
	code := proctest.Main(m)
	if sharedFront.f != nil {
		sharedFront.f.close()
	}
	if shared.w != nil {
		shared.w.close()
	}
	os.Exit(code)
}

// world is the stack every client test talks to.
type world struct {
	stack    *e2e.Stack
	registry *devstack.RegistryServer
	host     string // the registry as clients name it: localhost:port
	dir      string
	// Files of the client's TLS identity and the CA of both servers.
	caFile, certFile, keyFile string
	// certDir holds ca.crt, client.cert and client.key (the certs.d
	// layout of containers/image, docker and regclient).
	certDir string
	thumb   string // x5t#S256 of the client certificate
	logs    *proctest.Buffer
	cancel  context.CancelFunc
}

var shared struct {
	once sync.Once
	w    *world
	err  error
}

// getWorld starts the stack once for the package.
func getWorld(t *testing.T) *world {
	t.Helper()
	shared.once.Do(func() { shared.w, shared.err = startWorld() })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.w
}

func startWorld() (_ *world, err error) {
	dir, err := os.MkdirTemp("", "registry-clients-")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &world{dir: dir, logs: &proctest.Buffer{}, cancel: cancel}
	defer func() {
		if err != nil {
			w.close()
		}
	}()
	m, err := e2e.NewTLSMaterial(dir)
	if err != nil {
		return nil, err
	}
	if err := w.writeIdentity(m); err != nil {
		return nil, err
	}
	sctx, scancel := context.WithTimeout(ctx, 60*time.Second)
	defer scancel()
	w.stack, err = e2e.StartStack(sctx, e2e.StackOptions{
		Dir: dir, TLS: m, Stderr: w.logs, LogLevel: "info", DefaultPlan: "community",
		Plans: map[string][]plans.Rule{
			"enterprise": {{Repository: "stella-ops/*/*", Actions: []string{"pull", "push"}}},
			"community":  {{Repository: "stella-ops/public/*"}},
		},
	})
	if err != nil {
		return nil, err
	}
	jwks := filepath.Join(dir, "registry-token.jwks")
	if err := os.WriteFile(jwks, w.stack.JWKS, 0o600); err != nil {
		return nil, err
	}
	serverCert, err := tls.LoadX509KeyPair(m.ServerCertFile, m.ServerKeyFile)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	tln := tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12})
	w.registry, err = devstack.StartRegistry(ctx, tln, devstack.RegistryOptions{
		Realm: w.stack.Realm, Service: w.stack.Service, Issuer: e2e.SigningIssuer, JWKSFile: jwks,
	})
	if err != nil {
		return nil, err
	}
	w.host = w.registry.Host
	return w, nil
}

func (w *world) close() {
	if w.registry != nil {
		_ = w.registry.Close()
	}
	if w.stack != nil {
		_ = w.stack.Close()
	}
	w.cancel()
	_ = os.RemoveAll(w.dir)
}

// writeIdentity writes the CA, the client certificate and its key as
// files, and the certs.d directory.
func (w *world) writeIdentity(m *e2e.TLSMaterial) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(m.Client.PrivateKey)
	if err != nil {
		return err
	}
	ca, err := os.ReadFile(m.ClientCAFile)
	if err != nil {
		return err
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: m.ClientLeaf.Raw})
	key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	w.certDir = filepath.Join(w.dir, "certs.d")
	w.caFile, w.certFile, w.keyFile = filepath.Join(w.dir, "ca.crt"), filepath.Join(w.dir, "client.crt"), filepath.Join(w.dir, "client.key")
	files := map[string][]byte{
		w.caFile: ca, w.certFile: cert, w.keyFile: key,
		filepath.Join(w.certDir, "ca.crt"): ca, filepath.Join(w.certDir, "client.cert"): cert, filepath.Join(w.certDir, "client.key"): key,
	}
	for path, b := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return err
		}
	}
	w.thumb = devauthority.CertThumbprint(m.ClientLeaf)
	return nil
}

// certOpTok mints an OpTok of plan enterprise bound to the client
// certificate.
func (w *world) certOpTok(t *testing.T) string {
	t.Helper()
	tok, err := w.stack.Authority.MintMTLS("cert-enterprise", "enterprise", "lic-enterprise", w.thumb, []string{"registry.token.issue"}, []string{"registry"}, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// decisions counts the registry-token decision lines issued through a
// credential carrier ("basic", "refresh_token", "password", "dpop") since
// mark (a length of w.logs).
func (w *world) decisions(mark int, credential string) int {
	return strings.Count(w.logs.String()[mark:], `"credential":"`+credential+`"`)
}

// ociImage writes a small image into an OCI layout at dir, tagged v1,
// and returns its manifest digest.
func ociImage(t *testing.T, dir string) string {
	const tag = "v1"
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for i := 0; i < 2; i++ {
		l, err := random.Layer(2048, types.OCILayer)
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// tool returns the path of a client: the tools cache first, then PATH.
// A missing client skips locally and fails under CI.
func tool(t *testing.T, name, install string) string {
	t.Helper()
	dir := os.Getenv("AUTHGATE_TOOLS")
	if dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".cache", "authgate-tools")
		}
	}
	if p := filepath.Join(dir, name); dir != "" && isExecutable(p) {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	msg := fmt.Sprintf("%s is not installed (neither in %s nor on PATH): %s", name, dir, install)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// run runs a client and returns its standard output; it fails the test
// with both outputs when the client fails. Secrets are not in args unless
// the client offers no other way; they are masked in the failure message.
func run(t *testing.T, env []string, bin string, args ...string) string {
	t.Helper()
	return runIn(t, "", env, bin, args...)
}

// runCombined is run returning standard output and error together (helm
// prints its digests on standard error).
func runCombined(t *testing.T, env []string, bin string, args ...string) string {
	t.Helper()
	out, errOut, err := runErr(env, bin, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", filepath.Base(bin), mask(strings.Join(args, " ")), err, out, errOut)
	}
	return out + "\n" + errOut
}

// runIn is run in the working directory dir.
func runIn(t *testing.T, dir string, env []string, bin string, args ...string) string {
	t.Helper()
	out, errOut, err := runErrIn(dir, env, bin, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", filepath.Base(bin), mask(strings.Join(args, " ")), err, out, errOut)
	}
	return out
}

func runErr(env []string, bin string, args ...string) (string, string, error) {
	return runErrIn("", env, bin, args...)
}

func runErrIn(dir string, env []string, bin string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// mask hides JWTs in a command line.
func mask(s string) string {
	f := strings.Fields(s)
	for i, w := range f {
		if strings.Count(w, ".") == 2 && len(w) > 100 {
			f[i] = "<jwt>"
		}
	}
	return strings.Join(f, " ")
}

var digestLine = regexp.MustCompile(`(?m)^Digest: (sha256:[0-9a-f]{64})`)

// digestOf returns the "Digest: sha256:..." that oras and helm print.
func digestOf(t *testing.T, out string) string {
	t.Helper()
	m := digestLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no digest in %q", out)
	}
	return m[1]
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
