package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// netnsPath is where `ip netns add NAME` binds the namespace.
func netnsPath(name string) string { return "/run/netns/" + name }

// DialContext dials addr from inside the cluster's network namespace: the
// node address, Service ClusterIPs (kube-proxy's rules apply to the
// node's own connections) and pod addresses are reachable, nothing else.
// The socket keeps its namespace after the dial.
func (c *Cluster) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		// setns changes only this OS thread; it is never handed back to
		// the scheduler in the other namespace: when switching back fails,
		// the goroutine ends with the thread locked, and Go discards it.
		runtime.LockOSThread()
		conn, back, err := dialIn(ctx, netnsPath(c.NetNS), network, addr)
		done <- result{conn, err}
		if back {
			runtime.UnlockOSThread()
		}
	}()
	r := <-done
	return r.conn, r.err
}

func dialIn(ctx context.Context, path, network, addr string) (conn net.Conn, back bool, err error) {
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return nil, true, err
	}
	defer func() { _ = self.Close() }()
	target, err := os.Open(path)
	if err != nil {
		return nil, true, err
	}
	defer func() { _ = target.Close() }()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return nil, true, fmt.Errorf("enter %s: %w", path, err)
	}
	var d net.Dialer
	conn, err = d.DialContext(ctx, network, addr)
	if serr := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); serr != nil {
		return conn, false, err
	}
	return conn, true, err
}
