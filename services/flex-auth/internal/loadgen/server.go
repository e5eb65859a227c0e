package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is the child process under load.
type server struct {
	cmd  *exec.Cmd
	addr string
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

func startFlexAuth(ctx context.Context, o options, dir string, actors []actor, log io.Writer) (*server, error) {
	reg := filepath.Join(dir, "registry.json")
	if err := writeSnapshot(reg, actors); err != nil {
		return nil, err
	}
	bin := o.bin
	if bin == "" {
		bin = filepath.Join(dir, "flex-auth")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/stellaops/authgate/services/flex-auth")
		build.Stdout, build.Stderr = log, log
		if err := build.Run(); err != nil {
			return nil, fmt.Errorf("go build flex-auth: %w", err)
		}
	}
	cmd := exec.CommandContext(ctx, bin, "serve", "--addr", "127.0.0.1:0", "--registry", reg, "--policy", o.policy,
		"--log", filepath.Join(dir, "decisions.jsonl"), "--log-sync", o.logSync, "--log-level", "warn")
	// One loadgen is one caller (one address): the per-caller limits are
	// off, so the run measures the service, not a caller's budget.
	// (The flood keeps them: it is the run that tests them.)
	if !o.limitsOn {
		cmd.Env = append(os.Environ(), "FLEX_AUTH_LIMITS__DECISIONSPERSECOND=0", "FLEX_AUTH_LIMITS__SEARCHCANDIDATESPERSECOND=0")
	}
	cmd.Stderr = log
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "flex-auth listening on "); ok {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return &server{cmd: cmd, addr: addr}, nil
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return nil, fmt.Errorf("flex-auth did not start")
}

// startOPA runs opa with policy.rego from this directory and the same
// registry as data, on a free port.
func startOPA(ctx context.Context, o options, dir string, actors []actor, log io.Writer) (*server, error) {
	registry := map[string]any{}
	for _, a := range actors {
		registry[a.Name] = a
	}
	b, err := json.Marshal(map[string]any{"registry": registry})
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data.json")
	if err := os.WriteFile(data, b, 0o600); err != nil {
		return nil, err
	}
	rego := filepath.Join(dir, "policy.rego")
	if err := os.WriteFile(rego, []byte(regoPolicy), 0o600); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cmd := exec.CommandContext(ctx, o.opa, "run", "--server", "--addr", addr, "--log-level", "error", rego, data)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start opa: %w", err)
	}
	for range 200 {
		if c, err := net.Dial("tcp", addr); err == nil {
			_ = c.Close()
			return &server{cmd: cmd, addr: addr}, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return nil, fmt.Errorf("opa did not listen on %s", addr)
}

// rss returns the peak and current resident set size of pid in MiB.
func rss(pid int) (peak, current float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1, -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "VmHWM:":
			peak = kb / 1024
		case "VmRSS:":
			current = kb / 1024
		}
	}
	return peak, current
}

func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
	}
	return n, sc.Err()
}
