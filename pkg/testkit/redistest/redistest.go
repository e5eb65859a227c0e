// Package redistest runs a real redis-server for tests.
//
//	srv := redistest.Start(t)
//	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
//	...
//	srv.Stop()    // Redis is down: clients now get errors
//	srv.Restart() // back on the same address, empty
//
// The server listens on a free 127.0.0.1 port, persists nothing
// (--save "" --appendonly no) and is stopped when the test ends.
package redistest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// startTimeout bounds how long Start and Restart wait for PONG.
const startTimeout = 15 * time.Second

// Server is a redis-server child process.
type Server struct {
	// Addr is host:port, e.g. "127.0.0.1:41234"; it stays the same across
	// Restart.
	Addr string

	t    testing.TB
	bin  string
	dir  string
	port int
	// conf is a config file given first (redis-sentinel needs one it can
	// rewrite); args are added after the defaults.
	conf string
	args []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	output *bytes.Buffer
}

// Start launches redis-server from PATH on a free 127.0.0.1 port, waits
// until it answers PING, and registers its shutdown with t.Cleanup. It
// fails the test when redis-server is missing or does not come up. With
// -short (go tool task test:unit, the inner loop without outside tools) it
// skips the test instead of starting anything; the full suite never runs
// with -short.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	return startBin(t, "redis-server", "redis-server", "", args...)
}

// startBin starts bin (from PATH; the Debian package is pkg) with the
// config file written from conf (when not empty) and args.
func startBin(t testing.TB, bin, pkg, conf string, args ...string) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("redistest: a -short run starts no redis-server (the full suite, go tool task test, does)")
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("%s not found on PATH: install it (apt-get install %s)", bin, pkg)
	}
	s := &Server{t: t, bin: path, dir: t.TempDir(), args: args}
	if conf != "" {
		s.conf = filepath.Join(s.dir, bin+".conf")
		if err := os.WriteFile(s.conf, []byte(conf), 0o600); err != nil {
			t.Fatalf("redistest: %v", err)
		}
	}
	var lastErr error
	for range 5 { // a free port can be taken between probing and binding
		s.port, err = freePort()
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
		if lastErr = s.start(); lastErr == nil {
			t.Cleanup(s.Stop)
			return s
		}
	}
	t.Fatalf("redistest: %v", lastErr)
	return nil
}

// URL returns a go-redis URL for the server, e.g. "redis://127.0.0.1:41234/0".
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Stop terminates the server and waits for it to exit. It is a no-op when
// the server is not running.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

// Restart stops the server if it runs and starts an empty one on the same
// address, waiting until it answers PING.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	s.stopLocked()
	s.mu.Unlock()
	if err := s.start(); err != nil {
		s.t.Fatalf("redistest: restart: %v", err)
	}
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := new(bytes.Buffer)
	var args []string
	if s.conf != "" {
		args = append(args, s.conf)
	}
	args = append(args,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--daemonize", "no",
		"--loglevel", "warning",
	)
	cmd := exec.Command(s.bin, append(args, s.args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited, s.output = cmd, exited, out

	deadline := time.Now().Add(startTimeout)
	for {
		if ping(s.Addr) == nil {
			return nil
		}
		select {
		case <-exited:
			s.cmd = nil
			return fmt.Errorf("redis-server on %s exited: %s", s.Addr, strings.TrimSpace(out.String()))
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stopLocked()
			return fmt.Errorf("redis-server on %s did not answer PING within %s: %s", s.Addr, startTimeout, strings.TrimSpace(out.String()))
		}
	}
}

// Kill sends SIGKILL (no shutdown, nothing saved, connections cut) and
// waits for the exit.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

func (s *Server) stopLocked() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(terminate())
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// ping sends an inline PING and expects +PONG.
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("unexpected PING reply %q", line)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
