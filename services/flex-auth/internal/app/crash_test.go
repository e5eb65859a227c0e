package app

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stellaops/authgate/services/flex-auth/internal/checkapi"
	"github.com/stellaops/authgate/services/flex-auth/internal/decisionlog"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
)

// child is the real flex-auth binary running as a separate process.
type child struct {
	cmd  *exec.Cmd
	url  string
	done chan error
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "flex-auth")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/stellaops/authgate/services/flex-auth").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startChild runs bin serve and learns its address from the "listening"
// line of its process log.
func startChild(t *testing.T, bin string, args ...string) *child {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, done: make(chan error, 1)}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "flex-auth listening on "); ok {
			c.url = "http://" + addr
			break
		}
	}
	if c.url == "" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child never listened:\n%s", stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout); c.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

func postCheck(client *http.Client, url, body string) (checkapi.Decision, int, error) {
	resp, err := client.Post(url+"/v1/check", "application/json", strings.NewReader(body))
	if err != nil {
		return checkapi.Decision{}, 0, err
	}
	defer resp.Body.Close()
	var d checkapi.Decision
	if resp.StatusCode == http.StatusOK {
		err = json.NewDecoder(resp.Body).Decode(&d)
	}
	return d, resp.StatusCode, err
}

// TestCrashLosesNoAnsweredDecision drives concurrent load against the
// real binary, kills it with SIGKILL, and checks that every decision any
// client received is in the log; then restarts on the same log and checks
// the whole file is valid JSON Lines.
func TestCrashLosesNoAnsweredDecision(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	reg, pol, logFile := filepath.Join(dir, "registry.json"), filepath.Join(dir, "policy.md"), filepath.Join(dir, "decisions.jsonl")
	copyFile(t, fixtureRegistry, reg)
	copyFile(t, fixturePolicy, pol)
	// A signed log that rotates every 64 KiB (a few hundred decisions).
	keyFile, pub := logSigningKey(t, dir)
	cfgFile := filepath.Join(dir, "flex-auth.yaml")
	cfg := fmt.Sprintf("decisionLog:\n  signingKeyFile: %s\n  maxSize: 65536\n  maxFiles: 0\n  checkpointInterval: 1s\n", keyFile)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--config", cfgFile, "--registry", reg, "--policy", pol, "--log", logFile, "--log-level", "warn"}
	c := startChild(t, bin, args...)

	// A real SIGHUP with a broken snapshot keeps the old pair serving.
	good, err := os.ReadFile(reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(reg, []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		resp, err := http.Get(c.url + "/healthz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var h struct{ Status string }
		return json.NewDecoder(resp.Body).Decode(&h) == nil && h.Status == "degraded"
	})
	if err := os.WriteFile(reg, good, 0o600); err != nil {
		t.Fatal(err)
	}

	var (
		mu       sync.Mutex
		received []string
		answered atomic.Int64
		wg       sync.WaitGroup
	)
	killAt := int64(3000)
	killed := make(chan struct{})
	var once sync.Once
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			for i := 0; ; i++ {
				actor := fixtureActors[(w+i)%len(fixtureActors)]
				body := fmt.Sprintf(`{"actor":%q,"ttl_hours":%d}`, actor, 1+(i%3)*500)
				d, code, err := postCheck(client, c.url, body)
				if err != nil {
					return // the server is gone
				}
				if code != http.StatusOK {
					t.Errorf("status %d during load", code)
					return
				}
				mu.Lock()
				received = append(received, d.DecisionID)
				mu.Unlock()
				if answered.Add(1) == killAt {
					once.Do(func() {
						_ = c.cmd.Process.Kill() // SIGKILL: no shutdown, no flush
						close(killed)
					})
				}
			}
		}()
	}
	wg.Wait()
	once.Do(func() { _ = c.cmd.Process.Kill(); close(killed) }) // if every client stopped early
	<-c.done

	files := logFiles(t, logFile)
	logged := map[string]bool{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.Split(raw, []byte("\n"))
		for i, l := range lines {
			if len(l) == 0 {
				continue
			}
			var e struct {
				DecisionID string `json:"decision_id"`
			}
			if err := json.Unmarshal(l, &e); err != nil {
				if i == len(lines)-1 && f == logFile {
					continue // a torn final line, never acknowledged
				}
				t.Fatalf("%s line %d is not JSON: %q", f, i+1, l)
			}
			logged[e.DecisionID] = true
		}
	}
	// What was written before the kill verifies; a torn last line is
	// reported as such.
	rep, err := decisionlog.Verify(files, pub)
	if err != nil {
		t.Fatalf("log verify after kill -9: %v", err)
	}
	t.Logf("after kill -9: %d files, %d lines, %d signed records, torn %d bytes", rep.Files, rep.Lines, rep.Signed, rep.TornBytes)
	if len(files) < 3 || rep.Signed < len(files)-1 || rep.Closed {
		t.Fatalf("want several rotated, signed files and no close record: %+v", rep)
	}
	missing := 0
	for _, id := range received {
		if !logged[id] {
			missing++
		}
	}
	t.Logf("received %d decisions, %d lines logged, missing %d", len(received), len(logged), missing)
	if missing != 0 || len(received) < int(killAt) {
		t.Fatalf("missing = %d of %d received", missing, len(received))
	}

	// Restart on the same log: it is repaired if needed and stays valid.
	c2 := startChild(t, bin, args...)
	d, code, err := postCheck(http.DefaultClient, c2.url, `{"actor":"agt-state-hub-bridge"}`)
	if err != nil || code != http.StatusOK || d.Effect != "allow" {
		t.Fatalf("after restart: %d %+v %v", code, d, err)
	}
	if err := c2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-c2.done; err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	files = logFiles(t, logFile)
	rep, err = decisionlog.Verify(files, pub)
	if err != nil || !rep.Closed || rep.TornBytes != 0 {
		t.Fatalf("log verify after restart and stop: %+v %v", rep, err)
	}
	all := map[string]engine.Decision{}
	for _, f := range files {
		maps.Copy(all, logLines(t, f)) // strict: every line a complete JSON object
	}
	for _, id := range append(received, d.DecisionID) {
		if _, ok := all[id]; !ok {
			t.Fatalf("decision %s missing after restart", id)
		}
	}
}

// logSigningKey writes an Ed25519 signing key for the decision log and
// returns its file and public key.
func logSigningKey(t *testing.T, dir string) (string, crypto.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "log-signing.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return file, pub
}

// logFiles lists the rotated files of logFile, oldest first, then it.
func logFiles(t *testing.T, logFile string) []string {
	t.Helper()
	files, err := decisionlog.Rotated(logFile)
	if err != nil {
		t.Fatal(err)
	}
	return append(files, logFile)
}
