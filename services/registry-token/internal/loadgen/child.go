package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"syscall"
	"time"

	"github.com/stellaops/authgate/services/registry-token/internal/e2e"
)

// ChildRunner returns an e2e.Runner that runs registry-token as a child
// process: exe with prefix followed by the command's arguments (the load
// generator re-executes itself with prefix ["registry-token"]). onStart
// receives the pid of the serving child (not of one-shot commands such as
// "jwks"). On cancellation the child gets SIGTERM, the
// service's graceful shutdown signal.
func ChildRunner(exe string, prefix []string, onStart func(pid int)) e2e.Runner {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer, listening func(net.Addr)) error {
		cmd := exec.Command(exe, append(append([]string(nil), prefix...), args...)...)
		cmd.Stdout, cmd.Stderr = stdout, stderr
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("loadgen: start registry-token: %w", err)
		}
		if onStart != nil && listening != nil {
			onStart(cmd.Process.Pid)
		}
		waited := make(chan error, 1)
		go func() { waited <- cmd.Wait() }()
		if listening != nil {
			if addr := flagValue(args, "--addr"); addr != "" {
				go reportListening(ctx, addr, listening)
			}
		}
		select {
		case err := <-waited:
			return exitError(err)
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
			timer := time.NewTimer(10 * time.Second)
			defer timer.Stop()
			select {
			case err := <-waited:
				return exitError(err)
			case <-timer.C:
				_ = cmd.Process.Kill()
				<-waited
				return errors.New("loadgen: registry-token ignored SIGTERM for 10s")
			}
		}
	}
}

func exitError(err error) error {
	if err != nil {
		return fmt.Errorf("loadgen: registry-token: %w", err)
	}
	return nil
}

// reportListening polls addr until it accepts a connection.
func reportListening(ctx context.Context, addr string, listening func(net.Addr)) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			if a, err := net.ResolveTCPAddr("tcp", addr); err == nil {
				listening(a)
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}
