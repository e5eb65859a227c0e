package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/stellaops/authgate/pkg/testkit/proctest"
	"github.com/stellaops/authgate/services/registry-token/internal/devauthority"
	"github.com/stellaops/authgate/services/registry-token/internal/loadgen"
	"github.com/stellaops/authgate/services/registry-token/internal/signing"
)

// scale is set by TestMain from -faults.scale before any test runs.
var scale proctest.Scale

func TestMain(m *testing.M) { os.Exit(proctest.MainScaled(m, &scale)) }

// The registry and plan every scenario uses.
const (
	service   = "registry.localhost"
	scopePull = "repository:stella-ops/public/base:pull"
	plan      = "community"
)

// authorityServer is the development Authority served from this process
// on a fixed loopback address that can go down and come back.
type authorityServer struct {
	*devauthority.Authority
	Addr string

	mu  sync.Mutex
	srv *http.Server
}

func startAuthority(t *testing.T) *authorityServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &authorityServer{Addr: ln.Addr().String()}
	a.Authority, err = devauthority.New(devauthority.Options{Issuer: "http://" + a.Addr})
	if err != nil {
		t.Fatal(err)
	}
	a.serve(ln)
	t.Cleanup(a.Down)
	return a
}

func (a *authorityServer) serve(ln net.Listener) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.srv = &http.Server{Handler: a.Authority, ReadHeaderTimeout: 5 * time.Second}
	go func(s *http.Server) { _ = s.Serve(ln) }(a.srv)
}

// Down closes the listener and every connection: the Authority is
// unreachable (connection refused).
func (a *authorityServer) Down() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.srv != nil {
		_ = a.srv.Close()
		a.srv = nil
	}
}

// Up listens on the same address again.
func (a *authorityServer) Up(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 100 { // the port can linger for a moment after Close
		if ln, err = net.Listen("tcp", a.Addr); err == nil || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("authority up again on %s: %v", a.Addr, err)
	}
	a.serve(ln)
}

// rtConfig is what the scenarios vary in the registry-token config.
type rtConfig struct {
	RedisURL string // empty: in-memory replay cache
	// Policy is the optional policy section (flex-auth call).
	Policy map[string]any
	// Edit changes the rendered document last (start-up error cases).
	Edit func(doc map[string]any)
}

// writeConfig renders the config for a (with a fresh signing key) into
// dir and returns its path. server.publicUrl and registry.realm are set
// per process through the environment (publicEnv).
func writeConfig(t *testing.T, dir string, a *authorityServer, c rtConfig) string {
	t.Helper()
	replay := map[string]any{"backend": "memory"}
	if c.RedisURL != "" {
		replay = map[string]any{"backend": "redis", "redisUrl": c.RedisURL}
	}
	doc := map[string]any{
		"log":    map[string]any{"level": "warn"},
		"server": map[string]any{"publicUrl": "http://127.0.0.1:1"},
		"authority": map[string]any{
			"issuer":               a.Issuer(),
			"metadataUrl":          a.MetadataURL(),
			"requireHttpsMetadata": false,
			"audiences":            []string{"registry"},
			"requiredScopes":       []string{"registry.token.issue"},
			"senderConstraint":     "required",
			"jwksRefreshInterval":  "10s",
			"dpop":                 map[string]any{"maxAge": "60s", "clockSkew": "5s", "algorithms": []string{"ES256"}},
			"replayCache":          replay,
		},
		"signing":         map[string]any{"issuer": "registry-token", "keyFile": writeKey(t, dir), "lifetime": "5m"},
		"registry":        map[string]any{"realm": "http://127.0.0.1:1/token", "services": []string{service}},
		"plans":           map[string]any{plan: []map[string]any{{"repository": "stella-ops/public/*", "actions": []string{"pull"}}}},
		"defaultPlan":     plan,
		"revokedLicenses": []string{},
	}
	if c.Policy != nil {
		doc["policy"] = c.Policy
	}
	if c.Edit != nil {
		c.Edit(doc)
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "registry-token.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeKey writes a fresh P-256 signing key as PKCS#8 PEM, mode 0600.
func writeKey(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "signing.pem")
	if err := signing.WriteNewKey(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// publicEnv makes the process's public URL its own address, or base when
// set (replicas behind one name).
func publicEnv(base string) []string {
	if base == "" {
		base = "http://" + proctest.AddrArg
	}
	return []string{"REGISTRY_TOKEN_SERVER__PUBLICURL=" + base, "REGISTRY_TOKEN_REGISTRY__REALM=" + base + "/token"}
}

// startRegistryToken runs the binary with config; readyPath "" waits for
// /readyz.
func startRegistryToken(t *testing.T, name, config, publicURL, readyPath string) *proctest.Proc {
	t.Helper()
	bin := proctest.Build(t, "./services/registry-token")
	return proctest.Start(t, bin, proctest.Options{
		Name: name, Dir: filepath.Dir(config), ReadyPath: readyPath,
		Args: []string{"serve", "--config", config, "--addr", proctest.AddrArg},
		Env:  publicEnv(publicURL),
	})
}

// caller is one client: its DPoP key and an OpTok bound to it.
type caller struct {
	prover *loadgen.FastProver
	tok    string
}

// newCaller mints an OpTok for a fresh DPoP key whose proofs target
// realm (the public URL + "/token").
func newCaller(t *testing.T, a *devauthority.Authority, realm string, opts ...devauthority.MintOption) *caller {
	t.Helper()
	p, err := loadgen.NewFastProver(http.MethodGet, realm, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := a.MintDPoP(fmt.Sprintf("faults-%s", p.JKT()[:8]), plan, "", p.JKT(),
		[]string{"registry.token.issue"}, []string{"registry"}, 30*time.Minute, opts...)
	if err != nil {
		t.Fatal(err)
	}
	p.Bind(tok)
	return &caller{prover: p, tok: tok}
}

func (c *caller) proof(t testing.TB) string {
	p, err := c.prover.Proof()
	if err != nil {
		t.Error(err)
	}
	return p
}

// answer is one /token outcome.
type answer struct {
	Status int
	Code   string // the problem's error member
	Reason string // the problem's reason member
	Token  string
	Body   []byte
	Err    error
	Start  time.Time
	At     time.Time
}

func newClient(conns int) *http.Client { return proctest.NewClient(conns, 15*time.Second) }

// tokenQuery is the query of every token request.
var tokenQuery = url.Values{"service": {service}, "scope": {scopePull}}.Encode()

// requestToken sends GET /token to base (the process's own address) with
// the caller's OpTok and proof.
func requestToken(ctx context.Context, client *http.Client, base string, c *caller, proof string) answer {
	a := answer{Start: time.Now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/token?"+tokenQuery, nil)
	if err != nil {
		a.Err = err
		return a
	}
	req.Header.Set("Authorization", "DPoP "+c.tok)
	req.Header.Set("DPoP", proof)
	return do(client, req, a)
}

// do sends req and reads the answer into a.
func do(client *http.Client, req *http.Request, a answer) answer {
	resp, err := client.Do(req)
	a.At = time.Now()
	if err != nil {
		a.Err = err
		return a
	}
	defer resp.Body.Close()
	a.Status = resp.StatusCode
	a.Body, a.Err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	a.At = time.Now()
	var body struct {
		Token  string `json:"token"`
		Error  string `json:"error"`
		Reason string `json:"reason"`
	}
	if json.Unmarshal(a.Body, &body) == nil {
		a.Token, a.Code, a.Reason = body.Token, body.Error, body.Reason
	}
	return a
}

// waitFor polls cond every 10 ms for at most d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	proctest.WaitFor(t, d, what, cond)
}

// readyStatus returns the status of GET url/readyz (0 on error).
func readyStatus(url string) int {
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// rejected scrapes registry_token_rejected_total by reason.
func rejected(t *testing.T, p *proctest.Proc) map[string]float64 {
	t.Helper()
	m, err := p.Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return m.Labels("registry_token_rejected_total", "reason")
}
