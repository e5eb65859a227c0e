package policyclient_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
	"github.com/stellaops/authgate/pkg/testkit/proctest"
	"github.com/stellaops/authgate/services/registry-token/internal/app"
)

func TestMain(m *testing.M) { os.Exit(proctest.Main(m)) }

// flexAuthProc is a running flex-auth serve.
type flexAuthProc struct {
	*proctest.Proc
	Log string // decision log file
}

func startFlexAuth(t *testing.T, bin, root string) *flexAuthProc {
	t.Helper()
	dir := t.TempDir()
	p := &flexAuthProc{Log: filepath.Join(dir, "decisions.jsonl")}
	p.Proc = proctest.Start(t, bin, proctest.Options{Name: "flex-auth", Dir: dir, Args: []string{
		"serve", "--addr", proctest.AddrArg,
		"--registry", filepath.Join(root, "configs", "registry-policy", "registry_snapshot.json"),
		"--policy", filepath.Join(root, "configs", "registry-policy", "policy_package.md"),
		"--log", p.Log}})
	return p
}

// registryToken is registry-token started in-process with app.Run.
type registryToken struct {
	URL  string
	Logs *proctest.Buffer
}

const rtPublicURL = "http://localhost:8085"

func startRegistryToken(t *testing.T, a *authoritytest.Authority, policyURL string) *registryToken {
	t.Helper()
	return startRegistryTokenPolicy(t, a, fmt.Sprintf("{url: %q, timeout: 1s, failClosed: true}", policyURL))
}

// startRegistryTokenPolicy starts registry-token with policy set to the
// YAML flow mapping policy.
func startRegistryTokenPolicy(t *testing.T, a *authoritytest.Authority, policy string) *registryToken {
	t.Helper()
	dir := t.TempDir()
	keyFile := writeSigningKey(t, dir)
	cfg := fmt.Sprintf(`
log: {level: info}
server: {addr: "127.0.0.1:0", publicUrl: %q}
authority: {issuer: %q, metadataUrl: %q, requireHttpsMetadata: false}
registry: {realm: %q, services: [registry.localhost]}
signing: {keyFile: %q}
plans:
  community:
    - {repository: "stella-ops/public/*", actions: [pull]}
    - {repository: "stella-ops/sandbox/*", actions: [pull, push, delete]}
    - {repository: "quarantine/*", actions: [pull]}
  enterprise:
    - {repository: "stella-ops/*/*", actions: [pull, push, delete]}
    - {repository: "quarantine/*", actions: [pull, push]}
    - {catalog: true}
defaultPlan: community
policy: %s
`, rtPublicURL, a.Issuer, a.MetadataURL(), rtPublicURL+"/token", keyFile, policy)
	cfgFile := filepath.Join(dir, "registry-token.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &proctest.Buffer{}
	listening := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.Env{Args: []string{"serve", "--config", cfgFile}, Stdout: io.Discard, Stderr: logs,
			Listening: func(addr net.Addr) { listening <- addr }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("registry-token: %v", err)
		}
	})
	var base string
	select {
	case addr := <-listening:
		base = "http://" + addr.String()
	case err := <-done:
		t.Fatalf("registry-token did not start: %v", err)
	}
	proctest.WaitReady(t, base+"/readyz", proctest.DefaultReadyTimeout)
	return &registryToken{URL: base, Logs: logs}
}
