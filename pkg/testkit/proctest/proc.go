package proctest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// AddrArg in Options.Args and Options.Env is replaced by the child's
// listen address ("127.0.0.1:PORT").
const AddrArg = "{addr}"

// Default bounds.
const (
	DefaultReadyTimeout = 30 * time.Second
	DefaultStopTimeout  = 15 * time.Second
	bindAttempts        = 3
)

// Options configures Start.
type Options struct {
	// Name labels the log files and failure output (default: the
	// binary's base name).
	Name string
	// Args are the command-line arguments; AddrArg is replaced by the
	// listen address.
	Args []string
	// Env is added to a minimal environment (PATH, HOME, TMPDIR): the
	// test's own environment is not inherited, so that no stray
	// service variable changes the configuration.
	Env []string
	// Dir is the working directory and where the log files go (default
	// t.TempDir()).
	Dir string
	// Port is the port to listen on (default: a free one).
	Port int
	// ReadyPath is polled until it answers 200 (default "/readyz"); set
	// it to "/healthz" to wait for liveness only.
	ReadyPath string
	// ReadyTimeout bounds start-up (default DefaultReadyTimeout).
	ReadyTimeout time.Duration
	// TLS, when set, means the child serves HTTPS: URL is https:// and
	// readiness is polled with this client configuration (its RootCAs,
	// and a client certificate if the child asks for one).
	TLS *tls.Config
}

// Proc is a running (or exited) child process.
type Proc struct {
	// Name, Addr ("127.0.0.1:PORT") and URL ("http://127.0.0.1:PORT").
	Name string
	Addr string
	URL  string
	// StdoutFile and StderrFile receive the output of every run.
	StdoutFile string
	StderrFile string

	bin  string
	opts Options
	t    testing.TB

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	state  *os.ProcessState
}

// Start runs bin with opts and waits until it is ready. The process is
// stopped (SIGTERM, then SIGKILL) when the test ends, and its stderr is
// printed if the test failed.
func Start(t testing.TB, bin string, opts Options) *Proc {
	t.Helper()
	p, err := start(t, bin, opts)
	if err != nil {
		t.Fatalf("proctest: %v", err)
	}
	return p
}

func start(t testing.TB, bin string, opts Options) (*Proc, error) {
	if opts.Name == "" {
		opts.Name = filepath.Base(bin)
	}
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	if opts.ReadyPath == "" {
		opts.ReadyPath = "/readyz"
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = DefaultReadyTimeout
	}
	p := &Proc{
		Name:       opts.Name,
		StdoutFile: filepath.Join(opts.Dir, opts.Name+".stdout.log"),
		StderrFile: filepath.Join(opts.Dir, opts.Name+".stderr.log"),
		bin:        bin,
		opts:       opts,
		t:          t,
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("%s stderr (last 4 KiB of %s):\n%s", p.Name, p.StderrFile, tail(p.StderrFile, 4<<10))
		}
	})
	fixed := opts.Port != 0
	var err error
	for range bindAttempts {
		port := opts.Port
		if !fixed {
			if port, err = FreePort(); err != nil {
				return nil, err
			}
		}
		p.setAddr(port)
		err = p.launch()
		if err == nil || fixed || !errors.Is(err, errBind) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

var errBind = errors.New("address already in use")

func (p *Proc) setAddr(port int) {
	p.opts.Port = port
	p.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	p.URL = "http://" + p.Addr
	if p.opts.TLS != nil {
		p.URL = "https://" + p.Addr
	}
}

// launch starts the process and waits for readiness.
func (p *Proc) launch() error {
	args := make([]string, len(p.opts.Args))
	for i, a := range p.opts.Args {
		args[i] = strings.ReplaceAll(a, AddrArg, p.Addr)
	}
	stdout, err := os.OpenFile(p.StdoutFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer stdout.Close()
	stderr, err := os.OpenFile(p.StderrFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer stderr.Close()
	offset, _ := stderr.Seek(0, io.SeekEnd)

	cmd := exec.Command(p.bin, args...)
	cmd.Dir = p.opts.Dir
	cmd.Env = baseEnv()
	for _, kv := range p.opts.Env {
		cmd.Env = append(cmd.Env, strings.ReplaceAll(kv, AddrArg, p.Addr))
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.exited, p.state = cmd, exited, nil
	p.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		p.mu.Lock()
		p.state = cmd.ProcessState
		p.mu.Unlock()
		close(exited)
	}()
	if err := p.waitReady(exited); err != nil {
		out := tailFrom(p.StderrFile, offset, 4<<10)
		if strings.Contains(out, "address already in use") {
			return fmt.Errorf("%s on %s: %w", p.Name, p.Addr, errBind)
		}
		return fmt.Errorf("%s on %s: %w\nstderr:\n%s", p.Name, p.Addr, err, out)
	}
	return nil
}

func (p *Proc) waitReady(exited <-chan struct{}) error {
	err := pollOK(p.URL+p.opts.ReadyPath, p.opts.ReadyTimeout, exited, p.opts.TLS)
	switch {
	case errors.Is(err, errExited):
		return fmt.Errorf("exited before ready (%s)", p.ExitState())
	case err != nil:
		p.Kill()
		return fmt.Errorf("%s not 200 within %s", p.opts.ReadyPath, p.opts.ReadyTimeout)
	}
	return nil
}

// WaitReady polls url until it answers 200, for at most timeout, for
// servers that are not children (a service started in-process).
func WaitReady(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	if err := pollOK(url, timeout, nil, nil); err != nil {
		t.Fatalf("proctest: %v", err)
	}
}

var errExited = errors.New("exited")

// pollOK polls url every 20 ms until it answers 200, timeout passes or
// exited (nil: never) is closed; tlsCfg, when set, configures HTTPS.
func pollOK(url string, timeout time.Duration, exited <-chan struct{}, tlsCfg *tls.Config) error {
	client := &http.Client{Timeout: 2 * time.Second}
	if tlsCfg != nil {
		client.Transport = &http.Transport{TLSClientConfig: tlsCfg}
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errExited
		case <-deadline.C:
			return fmt.Errorf("%s not 200 within %s", url, timeout)
		case <-tick.C:
		}
	}
}

// baseEnv is the minimal environment of a child.
func baseEnv() []string {
	env := []string{}
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// PID returns the process id of the current run (0 when none started).
func (p *Proc) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Running reports whether the current run has not exited.
func (p *Proc) Running() bool {
	p.mu.Lock()
	ch := p.exited
	p.mu.Unlock()
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return false
	default:
		return true
	}
}

// Signal sends sig to the running process.
func (p *Proc) Signal(sig os.Signal) error {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return errors.New("proctest: not started")
	}
	return cmd.Process.Signal(sig)
}

// Kill sends SIGKILL and waits for the process to exit.
func (p *Proc) Kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil || exited == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// Stop sends SIGTERM, waits up to DefaultStopTimeout, then kills.
func (p *Proc) Stop() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil || exited == nil {
		return
	}
	select {
	case <-exited:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(DefaultStopTimeout):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	}
}

// Wait waits up to timeout for the process to exit and returns its exit
// code (-1 when killed by a signal).
func (p *Proc) Wait(timeout time.Duration) (int, error) {
	p.mu.Lock()
	exited := p.exited
	p.mu.Unlock()
	if exited == nil {
		return 0, errors.New("proctest: not started")
	}
	select {
	case <-exited:
	case <-time.After(timeout):
		return 0, fmt.Errorf("proctest: %s still running after %s", p.Name, timeout)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state.ExitCode(), nil
}

// ExitState describes how the last run ended ("running" while it runs).
func (p *Proc) ExitState() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == nil {
		return "running"
	}
	return p.state.String()
}

// Restart stops the process if it runs (SIGTERM) and starts it again with
// the same arguments on the same port, waiting until it is ready.
func (p *Proc) Restart(t testing.TB) {
	t.Helper()
	p.Stop()
	if err := p.launch(); err != nil {
		t.Fatalf("proctest: restart: %v", err)
	}
}

// StartAgain starts the process after it exited (Kill), on the same port.
func (p *Proc) StartAgain(t testing.TB) {
	t.Helper()
	if p.Running() {
		t.Fatalf("proctest: %s is still running", p.Name)
	}
	if err := p.launch(); err != nil {
		t.Fatalf("proctest: start again: %v", err)
	}
}

// Stderr returns everything the process wrote to stderr so far.
func (p *Proc) Stderr() string {
	b, _ := os.ReadFile(p.StderrFile)
	return string(b)
}

// RSS reads the resident set size of the running process from
// /proc/PID/status (VmRSS), in bytes.
func (p *Proc) RSS() (int64, error) {
	pid := p.PID()
	if pid == 0 {
		return 0, errors.New("proctest: not started")
	}
	return ReadRSS(pid)
}

// ReadRSS returns VmRSS of pid in bytes.
func ReadRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		v, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("proctest: unexpected VmRSS line %q", line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, err
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("proctest: no VmRSS for pid %d", pid)
}

// Result is the outcome of Run.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Run runs bin with args to completion (at most timeout) in dir with the
// minimal environment plus env, for commands that are expected to exit
// (start-up errors, validators).
func Run(t testing.TB, bin, dir string, env []string, timeout time.Duration, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(baseEnv(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("proctest: run %s: %v", bin, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("proctest: %s %v did not exit within %s", filepath.Base(bin), args, timeout)
	}
	return Result{Code: cmd.ProcessState.ExitCode(), Stdout: out.String(), Stderr: errOut.String()}
}

// FreePort returns a 127.0.0.1 port that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("proctest: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func tail(file string, n int64) string { return tailFrom(file, 0, n) }

func tailFrom(file string, from, n int64) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return err.Error()
	}
	if from > int64(len(b)) {
		from = 0
	}
	b = b[from:]
	if int64(len(b)) > n {
		b = b[int64(len(b))-n:]
	}
	return string(b)
}

// State returns the process state letter from /proc/PID/stat ("R", "S",
// "T" when stopped by SIGSTOP, ...), or "" when it cannot be read.
func (p *Proc) State() string {
	pid := p.PID()
	if pid == 0 {
		return ""
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}
