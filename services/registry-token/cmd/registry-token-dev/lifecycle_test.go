package main

import (
	"bytes"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/proctest"
)

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// portFree reports whether port can be bound within wait.
func portFree(port int, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			_ = ln.Close()
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startUp runs the built "registry-token-dev up" with flex-auth on a port
// of its own, and returns once the whole stack is up.
func startUp(t *testing.T, dev, flexAuth string, flexPort int) (*exec.Cmd, *proctest.Buffer) {
	t.Helper()
	root, err := proctest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dev, "up", "--run-dir", t.TempDir(), "--flex-auth-bin", flexAuth,
		"--flex-auth-port", strconv.Itoa(flexPort), "--authority-port", "0", "--port", "0", "--registry-port", "0")
	cmd.Dir = root
	logs := &proctest.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	// The summary is printed once every component is ready.
	for !bytes.Contains([]byte(logs.String()), []byte("DEVELOPMENT STACK")) || !ready(flexPort) {
		if time.Now().After(deadline) {
			t.Fatalf("the stack did not start:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cmd, logs
}

func ready(port int) bool {
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/readyz")
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// waitExit waits for cmd to exit within d.
func waitExit(cmd *exec.Cmd, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		return errTimeout
	}
}

type timeoutError struct{}

func (timeoutError) Error() string { return "did not exit in time" }

var errTimeout error = timeoutError{}

// TestUpStopsOnSIGHUPAndDiesWithItsChildren: closing the terminal
// (SIGHUP) stops the whole stack, not a reload; after kill -9 of "up"
// its flex-auth child does not keep its port; and a second "up" on a
// taken port refuses to start, naming the port, instead of reporting
// ready against the process that holds it.
func TestUpStopsOnSIGHUPAndDiesWithItsChildren(t *testing.T) {
	dev := proctest.Build(t, "./services/registry-token/cmd/registry-token-dev")
	flexAuth := proctest.Build(t, "./services/flex-auth")

	t.Run("SIGHUP stops everything", func(t *testing.T) {
		port := freePort(t)
		cmd, logs := startUp(t, dev, flexAuth, port)
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		if err := waitExit(cmd, 30*time.Second); err != nil {
			t.Fatalf("up after SIGHUP: %v\n%s", err, logs)
		}
		if !bytes.Contains([]byte(logs.String()), []byte("stopping the development stack")) {
			t.Errorf("no stop notice:\n%s", logs)
		}
		if !portFree(port, 5*time.Second) {
			t.Fatalf("flex-auth still holds port %d after up stopped", port)
		}
	})

	t.Run("kill -9 of up leaves no flex-auth behind", func(t *testing.T) {
		port := freePort(t)
		cmd, logs := startUp(t, dev, flexAuth, port)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = waitExit(cmd, 10*time.Second)
		if !portFree(port, 10*time.Second) {
			t.Fatalf("flex-auth still holds port %d after kill -9 of up\n%s", port, logs)
		}
	})

	t.Run("a taken port is refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		port := ln.Addr().(*net.TCPAddr).Port
		root, err := proctest.ModuleRoot()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(dev, "up", "--run-dir", t.TempDir(), "--flex-auth-bin", flexAuth,
			"--flex-auth-port", strconv.Itoa(port), "--authority-port", "0", "--port", "0", "--registry-port", "0")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		want := "port " + strconv.Itoa(port) + " for flex-auth: 127.0.0.1:" + strconv.Itoa(port) + " is in use"
		if err == nil || !bytes.Contains(out, []byte(want)) || !bytes.Contains(out, []byte("--flex-auth-port")) {
			t.Fatalf("up with flex-auth's port taken: %v, output:\n%s\nwant %q", err, out, want)
		}
	})
}
