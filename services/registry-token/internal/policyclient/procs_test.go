package policyclient_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stellaops/authgate/services/registry-token/internal/app"
	"github.com/stellaops/authgate/services/registry-token/internal/authority/authoritytest"
)

// moduleRoot is the directory of go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("not inside the module")
	}
	return filepath.Dir(gomod)
}

// buildFlexAuth builds the real flex-auth binary into a temporary directory.
func buildFlexAuth(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "flex-auth")
	cmd := exec.Command("go", "build", "-o", bin, "./services/flex-auth")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./services/flex-auth: %v\n%s", err, out)
	}
	return bin
}

// freeAddr returns a 127.0.0.1 address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// flexAuthProc is a running flex-auth serve.
type flexAuthProc struct {
	cmd    *exec.Cmd
	URL    string
	LogDir string
	Log    string // decision log file
	done   chan struct{}
	out    *syncBuffer
}

// kill sends SIGKILL to the child (by its pid) and waits for it to exit.
func (p *flexAuthProc) kill() {
	_ = p.cmd.Process.Kill() // an error only means it has already exited
	<-p.done
}

func startFlexAuth(t *testing.T, bin, root string) *flexAuthProc {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	p := &flexAuthProc{URL: "http://" + addr, LogDir: dir, Log: filepath.Join(dir, "decisions.jsonl"),
		done: make(chan struct{}), out: &syncBuffer{}}
	p.cmd = exec.Command(bin, "serve", "--addr", addr,
		"--registry", filepath.Join(root, "configs", "registry-policy", "registry_snapshot.json"),
		"--policy", filepath.Join(root, "configs", "registry-policy", "policy_package.md"),
		"--log", p.Log)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("flex-auth output:\n%s", p.out.String())
		}
	})
	waitReady(t, p.URL+"/readyz", p.done)
	return p
}

// stop sends SIGSTOP and polls /proc until every thread of the child is
// stopped (signal delivery is asynchronous); cont resumes it.
func (p *flexAuthProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !allStopped(t, p.cmd.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatal("flex-auth did not stop")
		}
		time.Sleep(5 * time.Millisecond) // polling /proc: there is nothing to wait on
	}
}

func (p *flexAuthProc) cont(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
}

// allStopped reports whether every thread of pid is in state T (stopped).
func allStopped(t *testing.T, pid int) bool {
	t.Helper()
	stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(stats) == 0 {
		t.Fatalf("threads of %d: %v", pid, err)
	}
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			return false // a thread that just exited
		}
		// pid (comm) state ...: the state follows the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
			return false
		}
	}
	return true
}

// waitReady polls url until it answers 200, failing if exited is closed.
func waitReady(t *testing.T, url string, exited <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready: %v", url, err)
		}
		select {
		case <-exited:
			t.Fatalf("process exited before %s was ready", url)
		case <-tick.C:
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// registryToken is registry-token started in-process with app.Run.
type registryToken struct {
	URL  string
	Logs *syncBuffer
}

const rtPublicURL = "http://localhost:8085"

func startRegistryToken(t *testing.T, a *authoritytest.Authority, policyURL string) *registryToken {
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
policy: {url: %q, timeout: 1s, failClosed: true}
`, rtPublicURL, a.Issuer, a.MetadataURL(), rtPublicURL+"/token", keyFile, policyURL)
	cfgFile := filepath.Join(dir, "registry-token.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
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
	waitReady(t, base+"/readyz", nil)
	return &registryToken{URL: base, Logs: logs}
}
