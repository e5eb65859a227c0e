package cluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"
)

// hostResolvConf is the resolver configuration the node's processes read:
// they share the host's files and only the network namespace is the
// cluster's.
const hostResolvConf = "/etc/resolv.conf"

// nodeDNS gives the node a resolver for the cluster domain. containerd
// resolves a registry and its token realm with the node's resolver (the
// host's /etc/resolv.conf), not with the cluster DNS the pods use, and the
// host's name servers are out of reach from the namespace. So each of those
// addresses is put on the namespace's loopback (a loopback one is there
// already), where a CoreDNS process of the node answers: names of the
// cluster domain are forwarded to the cluster DNS (kube-dns, through
// kube-proxy's rules for the node's own connections), every other name is
// refused, so no query leaves. A real node's resolver resolves its
// registries the same way: by the DNS the node is configured with.
func (c *Cluster) nodeDNS(ctx context.Context) error {
	data, err := os.ReadFile(hostResolvConf)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	servers, err := Nameservers(data)
	if err != nil {
		return fmt.Errorf("%s: %w", hostResolvConf, err)
	}
	var bind []string
	for _, a := range servers {
		if !a.Is4() {
			// Without IPv6 in the namespace, the resolver moves on to the
			// next server.
			continue
		}
		if !a.IsLoopback() {
			if err := c.run(ctx, c.tools.Nsenter, "--net="+netnsPath(c.NetNS), "--", c.tools.IP, "addr", "add", a.String()+"/32", "dev", "lo"); err != nil {
				return err
			}
		}
		bind = append(bind, a.String())
	}
	if len(bind) == 0 {
		return fmt.Errorf("%s names no IPv4 name server: the node would have no resolver", hostResolvConf)
	}
	corefile := fmt.Sprintf("%s:53 {\n    bind %s\n    forward . %s:53\n    cache 5\n    errors\n}\n", Domain, strings.Join(bind, " "), DNSIP)
	if err := writeFile(c.path("node-dns", "Corefile"), corefile, 0o644); err != nil {
		return err
	}
	if err := c.spawn("node-dns", c.tools.CoreDNS, "-conf", c.path("node-dns", "Corefile")); err != nil {
		return err
	}
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return c.DialContext(ctx, network, net.JoinHostPort(bind[0], "53"))
	}}
	return c.waitFor(ctx, "node resolver", time.Minute, func() error {
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		addrs, err := r.LookupHost(qctx, "kubernetes.default.svc."+Domain)
		if err != nil {
			return err
		}
		if len(addrs) != 1 || addrs[0] != apiServiceIP {
			return fmt.Errorf("kubernetes.default.svc.%s is %v, want %s", Domain, addrs, apiServiceIP)
		}
		return nil
	})
}

// apiServiceIP is the ClusterIP of the kubernetes Service (the first of
// ServiceCIDR).
const apiServiceIP = "10.96.0.1"

// Nameservers returns the addresses of the nameserver lines of a
// resolv.conf, in order; other lines and comments (# or ;) are skipped. A
// nameserver line whose value is not an IP address is an error naming the
// line. A file without any yields the resolver's default, 127.0.0.1.
func Nameservers(resolvConf []byte) ([]netip.Addr, error) {
	var out []netip.Addr
	s := bufio.NewScanner(bytes.NewReader(resolvConf))
	s.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; s.Scan(); n++ {
		f := strings.Fields(s.Text())
		if len(f) == 0 || f[0] != "nameserver" {
			continue
		}
		if len(f) < 2 {
			return nil, fmt.Errorf("line %d: nameserver without an address", n)
		}
		// A zone (fe80::1%eth0) is allowed; the address is what counts.
		a, err := netip.ParseAddr(f[1])
		if err != nil {
			return nil, fmt.Errorf("line %d: nameserver %q is not an IP address", n, f[1])
		}
		out = append(out, a.WithZone(""))
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		out = append(out, netip.MustParseAddr("127.0.0.1"))
	}
	return out, nil
}
