package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/authgate/services/flex-auth/internal/decisionlog"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
)

// signedLog writes n decisions into a rotating, signed log under dir and
// returns its files (oldest first) and the key's file.
func signedLog(t *testing.T, dir string, n int) ([]string, string) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	keyFile := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := decisionlog.LoadSigner(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "decisions.log")
	l, err := decisionlog.Open(decisionlog.Config{Path: path, Signer: signer, MaxSize: 2048})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := l.Append(decision(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := decisionlog.Rotated(path)
	return append(files, path), keyFile
}

func decision(i int) *engine.Decision {
	return &engine.Decision{Time: time.Now(), ID: fmt.Sprintf("decision:%016x", i), Actor: "a", Subject: "iam:a",
		Action: "ssh.sign", Principal: "p", Effect: "allow", Reason: "r", Backend: "flex-auth-cel"}
}

func TestLogVerify(t *testing.T) {
	dir := t.TempDir()
	files, key := signedLog(t, dir, 40)
	code, out, _ := run(t, append([]string{"log", "verify", "--key", key}, files...)...)
	if code != ExitOK || !strings.Contains(out, "ok: ") || !strings.Contains(out, "closed cleanly") {
		t.Fatalf("clean set: exit %d\n%s", code, out)
	}
	// Delete the second file: the third names lines that are missing.
	code, out, _ = run(t, append([]string{"log", "verify", "--key", key, files[0]}, files[2:]...)...)
	if code != ExitFailure || !strings.HasPrefix(out, files[2]+":1: missing file:") {
		t.Fatalf("missing file: exit %d\n%s", code, out)
	}
	// Without a key the chain is still checked.
	code, out, _ = run(t, append([]string{"log", "verify"}, files...)...)
	if code != ExitOK || !strings.Contains(out, "not checked: give --key") {
		t.Fatalf("no key: exit %d\n%s", code, out)
	}
	if code, _, errOut := run(t, "log", "verify"); code != ExitUsage || !strings.Contains(errOut, "no log file given") {
		t.Fatalf("no files: exit %d %s", code, errOut)
	}
	if code, _, errOut := run(t, "log", "verify", "--key", files[0], files[0]); code != ExitUsage || !strings.Contains(errOut, "--key") {
		t.Fatalf("a log as the key: exit %d %s", code, errOut)
	}
}

// syncBuffer is a buffer safe for one writer and one reader.
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

func TestLogFollowCopiesEveryLineAcrossRotations(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "decisions.log")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- follow(ctx, path, true, &out, 5*time.Millisecond) }()

	l, err := decisionlog.Open(decisionlog.Config{Path: path, MaxSize: 1500})
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := range n {
		if err := l.Append(decision(i)); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			time.Sleep(10 * time.Millisecond) // let follow be mid-file at some rotations
		}
	}
	_ = l.Close()
	if rotated, _ := decisionlog.Rotated(path); len(rotated) < 10 {
		t.Fatalf("only %d rotations", len(rotated))
	}
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(out.String(), "\n") < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("follow copied %d lines, want %d", len(lines), n)
	}
	for i, line := range lines {
		if !strings.Contains(line, fmt.Sprintf(`"decision_id":"decision:%016x"`, i)) {
			t.Fatalf("line %d is %s", i+1, line)
		}
	}
}
