package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"syscall"
	"time"
)

// stopGrace is how long a child gets between SIGTERM and SIGKILL.
const stopGrace = 10 * time.Second

// FlexAuthOptions starts flex-auth as a child process.
type FlexAuthOptions struct {
	// Bin is the flex-auth executable (e.g. bin/flex-auth).
	Bin string
	// Addr is the listen address ("127.0.0.1:8080").
	Addr string
	// Registry and Policy are the snapshot and policy package files,
	// DecisionLog the decision log file.
	Registry, Policy, DecisionLog string
	// Output receives the child's stdout and stderr.
	Output io.Writer
}

// Child is a running flex-auth process.
type Child struct {
	// URL is its base URL ("http://127.0.0.1:8080").
	URL string

	cmd  *exec.Cmd
	done chan error
}

// StartFlexAuth runs "flex-auth serve" and waits until its /readyz
// answers 200 or timeout passes. Close stops it with SIGTERM.
func StartFlexAuth(ctx context.Context, o FlexAuthOptions, timeout time.Duration) (*Child, error) {
	cmd := exec.Command(o.Bin, "serve", "--addr", o.Addr, "--registry", o.Registry,
		"--policy", o.Policy, "--log", o.DecisionLog)
	cmd.Stdout, cmd.Stderr = o.Output, o.Output
	// Pdeathsig fires when the thread that forked the child exits; the
	// runtime ends a thread only when a goroutine locked to it returns,
	// which this one is not.
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("flex-auth: %w (build it first: go build -o bin/ ./services/...)", err)
	}
	c := &Child{URL: "http://" + o.Addr, cmd: cmd, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	if err := c.waitReady(ctx, timeout); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Child) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	return poll(ctx, c.URL+"/readyz", deadline.C, c.done, "flex-auth")
}

// Close sends SIGTERM and waits for the process to exit (SIGKILL after
// stopGrace). An exit caused by the signal is not an error.
func (c *Child) Close() error {
	if c.cmd == nil {
		return nil
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	var err error
	select {
	case err = <-c.done:
	case <-t.C:
		_ = c.cmd.Process.Kill()
		err = <-c.done
	}
	c.done <- err // a second Close sees the same result
	c.cmd = nil
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signaled() {
		return nil
	}
	return err
}

// poll is Poll with a loopback client.
func poll(ctx context.Context, url string, deadline <-chan time.Time, exited chan error, what string) error {
	client := &http.Client{Transport: LoopbackTransport(nil), Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	return Poll(ctx, client, url, deadline, exited, what)
}

// Poll GETs url with client every 20ms until it answers 200. It gives
// up when deadline fires, ctx is done, or exited delivers (the server
// what stopped; the value is put back for its owner).
func Poll(ctx context.Context, client *http.Client, url string, deadline <-chan time.Time, exited chan error, what string) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-tick.C:
		case err := <-exited:
			exited <- err
			return fmt.Errorf("%s exited before it was ready: %w", what, err)
		case <-deadline:
			return fmt.Errorf("%s not ready in time (%s)", what, url)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
