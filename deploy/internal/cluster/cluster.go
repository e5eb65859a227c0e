// Package cluster runs a real single-node Kubernetes cluster for the
// end-to-end tests: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, kubelet and kube-proxy (pinned, built by
// deploy/tools/install-kube.sh), containerd with runc and the bridge CNI
// plugin (Debian packages), and CoreDNS.
//
// Everything runs in a network namespace of its own that has no route
// out: the node address is on the namespace's loopback, pods sit on a
// bridge inside it, forwarded traffic that leaves the pod network is
// dropped (IPv4 and IPv6), nothing is masqueraded, CoreDNS has no
// upstream, the node's own resolver (nodeDNS) answers only the cluster
// domain, and containerd's registry configuration points the public
// registries at a closed port. Every image is built here and imported.
// Stop undoes everything Start changed on the host (processes, the
// namespace with its interfaces and iptables chains, mounts, cgroups,
// kernel settings the kubelet writes, containerd's and the kubelet's
// files outside the state directory); Snapshot and Diff check that.
package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
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

// Config says where the cluster keeps its state and what it imports.
type Config struct {
	// Dir holds every file of the cluster (absolute; created if missing).
	Dir string
	// Tools are the binaries (FindTools).
	Tools Tools
	// Images are OCI archives imported into containerd before the node
	// starts (the pause and CoreDNS images are built by Start).
	Images []string
	// Log receives progress lines (nil: discarded).
	Log io.Writer
}

// Validate reports every missing or wrong setting.
func (c Config) Validate() error {
	var errs []error
	if !filepath.IsAbs(c.Dir) {
		errs = append(errs, fmt.Errorf("cluster: Dir %q must be an absolute path", c.Dir))
	}
	if c.Tools.Kubelet == "" {
		errs = append(errs, errors.New("cluster: Tools not set (FindTools)"))
	}
	for _, img := range c.Images {
		if _, err := os.Stat(img); err != nil {
			errs = append(errs, fmt.Errorf("cluster: image archive: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Cluster is a running cluster.
type Cluster struct {
	// ID is unique per cluster; the namespace and the cgroup root carry it.
	ID string
	// Dir is the state directory.
	Dir string
	// NetNS is the network namespace's name (ip netns).
	NetNS string

	tools   Tools
	log     io.Writer
	procs   []*proc
	before  kernelSettings
	created []string // host paths Start created, removed by Stop when empty
	stopped bool
}

type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

// Kubeconfig is the administrator's kubeconfig (group system:masters).
func (c *Cluster) Kubeconfig() string { return c.kubeconfig("admin") }

// Socket is containerd's socket.
func (c *Cluster) Socket() string { return c.path("containerd.sock") }

func (c *Cluster) cgroupRoot() string { return "authgate-k8s-" + c.ID }

func (c *Cluster) logf(format string, args ...any) {
	fmt.Fprintf(c.log, "%s cluster: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// Start brings the cluster up and returns once the node and CoreDNS are
// Ready. On failure everything already started is stopped again.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	id, err := randomHex(4)
	if err != nil {
		return nil, err
	}
	c := &Cluster{ID: id, Dir: cfg.Dir, NetNS: "authgate-k8s-" + id, tools: cfg.Tools, log: cfg.Log}
	if c.log == nil {
		c.log = io.Discard
	}
	if err := c.start(ctx, cfg.Images); err != nil {
		logs := c.Logs()
		if serr := c.Stop(); serr != nil {
			err = errors.Join(err, serr)
		}
		return nil, fmt.Errorf("%w\n%s", err, logs)
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context, images []string) error {
	began := time.Now()
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return err
	}
	// The kubelet writes kernel settings (vm.overcommit_memory,
	// kernel.panic, ...): Stop writes the old values back.
	var err error
	if c.before, err = readKernelSettings(); err != nil {
		return err
	}
	// The kubelet makes its device plugin socket under /var/lib/kubelet and
	// the flexvolume directory under /usr/libexec/kubernetes whatever its
	// configuration says (paths fixed in its code): on a host that never
	// ran a kubelet, Stop removes them again.
	for _, p := range []string{"/var/log/containers", "/run/containerd", "/var/lib/cni", "/var/lib/kubelet", "/usr/libexec/kubernetes"} {
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			c.created = append(c.created, p)
		}
	}
	if err := writeFile(c.path("state.txt"), c.stateFile(), 0o644); err != nil {
		return err
	}
	if err := c.network(ctx); err != nil {
		return err
	}
	if err := c.writeFiles(); err != nil {
		return err
	}
	if err := c.spawn("containerd", c.tools.Containerd, "--config", c.path("containerd.toml"), "--log-level", "warn"); err != nil {
		return err
	}
	if err := c.waitFor(ctx, "containerd", time.Minute, func() error {
		_, err := c.Ctr(ctx, "version")
		return err
	}); err != nil {
		return err
	}
	if err := c.importImages(ctx, images); err != nil {
		return err
	}
	c.logf("containerd up, images imported (%v)", time.Since(began).Round(time.Second))
	if err := c.controlPlane(ctx); err != nil {
		return err
	}
	c.logf("API server ready (%v)", time.Since(began).Round(time.Second))
	if err := c.node(ctx); err != nil {
		return err
	}
	c.logf("node Ready (%v)", time.Since(began).Round(time.Second))
	if _, err := c.KubectlStdin(ctx, coreDNSManifest(), "apply", "-f", "-"); err != nil {
		return err
	}
	if _, err := c.Kubectl(ctx, "-n", "kube-system", "rollout", "status", "deployment/coredns", "--timeout=180s"); err != nil {
		return err
	}
	c.logf("CoreDNS Ready (%v)", time.Since(began).Round(time.Second))
	if err := c.nodeDNS(ctx); err != nil {
		return err
	}
	c.logf("node resolver up (%v)", time.Since(began).Round(time.Second))
	return nil
}

// stateFile records what a later `down` needs to clean up after a
// process that died without Stop.
func (c *Cluster) stateFile() string {
	return fmt.Sprintf("id=%s\nnetns=%s\ncgroup=%s\n", c.ID, c.NetNS, c.cgroupRoot())
}

// network creates the namespace: loopback up with the node address,
// forwarding on (pods reach Services through the node), bridged traffic
// through iptables (kube-proxy's rules apply between pods on the bridge),
// and every forwarded packet that would leave the pod network dropped.
func (c *Cluster) network(ctx context.Context) error {
	if err := c.run(ctx, c.tools.IP, "netns", "add", c.NetNS); err != nil {
		return err
	}
	steps := [][]string{
		{c.tools.IP, "link", "set", "lo", "up"},
		{c.tools.IP, "addr", "add", NodeIP + "/32", "dev", "lo"},
		// The node's own connections to Services (containerd pulling from a
		// registry's ClusterIP, a client on the node) need a route before
		// kube-proxy's OUTPUT rules rewrite the address to a pod's: without a
		// default route, the Service range gets one of its own.
		{c.tools.IP, "route", "add", ServiceCIDR, "dev", "lo", "src", NodeIP},
		{"sysctl", "-q", "-w", "net.ipv4.ip_forward=1"},
		{"sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=1"},
		{"sysctl", "-q", "-w", "net.bridge.bridge-nf-call-ip6tables=1"},
		{c.tools.IPTables, "-w", "-N", "AUTHGATE-EGRESS"},
		{c.tools.IPTables, "-w", "-A", "AUTHGATE-EGRESS", "-d", PodCIDR, "-j", "RETURN"},
		{c.tools.IPTables, "-w", "-A", "AUTHGATE-EGRESS", "-j", "DROP"},
		{c.tools.IPTables, "-w", "-I", "FORWARD", "1", "-s", PodCIDR, "-j", "AUTHGATE-EGRESS"},
		{c.tools.IP6Tables, "-w", "-P", "FORWARD", "DROP"},
	}
	for _, s := range steps {
		if err := c.run(ctx, c.tools.Nsenter, append([]string{"--net=" + netnsPath(c.NetNS), "--"}, s...)...); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) writeFiles() error {
	authority, err := NewCA("authgate-k8s-ca")
	if err != nil {
		return err
	}
	pki := c.path("pki")
	if err := os.MkdirAll(pki, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(pki, "ca.crt"), authority.PEM(), 0o644); err != nil {
		return err
	}
	apiIPs := []net.IP{net.ParseIP(NodeIP), net.ParseIP("10.96.0.1"), net.ParseIP("127.0.0.1")}
	apiNames := []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + Domain}
	for _, cert := range []struct {
		name, cn string
		groups   []string
		dns      []string
		ips      []net.IP
	}{
		{"apiserver", "kube-apiserver", nil, apiNames, apiIPs},
		{"apiserver-kubelet-client", "kube-apiserver-kubelet-client", []string{"system:masters"}, nil, nil},
		{"kubelet", "system:node:" + NodeName, []string{"system:nodes"}, []string{NodeName}, []net.IP{net.ParseIP(NodeIP)}},
	} {
		if err := authority.Issue(pki, cert.name, cert.cn, cert.groups, cert.dns, cert.ips); err != nil {
			return err
		}
	}
	if err := serviceAccountKey(pki); err != nil {
		return err
	}
	if err := c.writeKubeconfigs(); err != nil {
		return err
	}
	if err := c.registryHosts(); err != nil {
		return err
	}
	for _, f := range []struct{ path, content string }{
		{c.path("containerd.toml"), c.containerdConfig()},
		{c.path("cni", "net.d", "10-authgate.conflist"), c.cniConfig()},
		{c.path("kubelet.yaml"), c.kubeletConfig()},
		{c.path("kube-proxy.yaml"), c.kubeProxyConfig()},
		{c.path("resolv.conf"), "nameserver " + DNSIP + "\n"},
	} {
		if err := writeFile(f.path, f.content, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) controlPlane(ctx context.Context) error {
	pki := c.path("pki")
	if err := c.spawn("etcd", c.tools.Etcd, "--name", "default", "--data-dir", c.path("etcd"),
		"--listen-client-urls", "http://127.0.0.1:2379", "--advertise-client-urls", "http://127.0.0.1:2379",
		"--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
		"--initial-cluster", "default=http://127.0.0.1:2380", "--listen-metrics-urls", "http://127.0.0.1:2381",
		"--unsafe-no-fsync", "--log-level", "warn"); err != nil {
		return err
	}
	if err := c.spawn("kube-apiserver", c.tools.APIServer, "--etcd-servers", "http://127.0.0.1:2379",
		"--bind-address", NodeIP, "--advertise-address", NodeIP, "--secure-port", strconv.Itoa(APIPort),
		"--tls-cert-file", filepath.Join(pki, "apiserver.crt"), "--tls-private-key-file", filepath.Join(pki, "apiserver.key"),
		"--client-ca-file", filepath.Join(pki, "ca.crt"),
		"--kubelet-client-certificate", filepath.Join(pki, "apiserver-kubelet-client.crt"),
		"--kubelet-client-key", filepath.Join(pki, "apiserver-kubelet-client.key"),
		"--kubelet-certificate-authority", filepath.Join(pki, "ca.crt"),
		"--kubelet-preferred-address-types", "InternalIP",
		"--token-auth-file", filepath.Join(pki, "tokens.csv"),
		"--authorization-mode", "Node,RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc."+Domain,
		"--service-account-key-file", filepath.Join(pki, "sa.pub"),
		"--service-account-signing-key-file", filepath.Join(pki, "sa.key"),
		"--service-cluster-ip-range", ServiceCIDR, "--profiling=false"); err != nil {
		return err
	}
	if err := c.waitFor(ctx, "kube-apiserver /readyz", 3*time.Minute, func() error {
		_, err := c.Kubectl(ctx, "get", "--raw", "/readyz")
		return err
	}); err != nil {
		return err
	}
	if err := c.spawn("kube-controller-manager", c.tools.ControllerManager, "--kubeconfig", c.kubeconfig("kube-controller-manager"),
		"--authentication-kubeconfig", c.kubeconfig("kube-controller-manager"), "--authorization-kubeconfig", c.kubeconfig("kube-controller-manager"),
		"--bind-address", "127.0.0.1", "--leader-elect=false", "--profiling=false",
		"--service-account-private-key-file", filepath.Join(pki, "sa.key"), "--root-ca-file", filepath.Join(pki, "ca.crt"),
		"--service-cluster-ip-range", ServiceCIDR, "--use-service-account-credentials=true", "--concurrent-deployment-syncs=2"); err != nil {
		return err
	}
	return c.spawn("kube-scheduler", c.tools.Scheduler, "--kubeconfig", c.kubeconfig("kube-scheduler"),
		"--authentication-kubeconfig", c.kubeconfig("kube-scheduler"), "--authorization-kubeconfig", c.kubeconfig("kube-scheduler"),
		"--bind-address", "127.0.0.1", "--leader-elect=false", "--profiling=false")
}

func (c *Cluster) node(ctx context.Context) error {
	if err := c.createCgroupRoot(); err != nil {
		return err
	}
	if err := c.spawn("kubelet", c.tools.Kubelet, "--config", c.path("kubelet.yaml"), "--kubeconfig", c.kubeconfig("kubelet"),
		"--root-dir", c.path("kubelet"), "--node-ip", NodeIP, "--hostname-override", NodeName, "--v", "1"); err != nil {
		return err
	}
	if err := c.spawn("kube-proxy", c.tools.Proxy, "--config", c.path("kube-proxy.yaml")); err != nil {
		return err
	}
	return c.waitFor(ctx, "node Ready", 3*time.Minute, func() error {
		_, err := c.Kubectl(ctx, "wait", "node/"+NodeName, "--for=condition=Ready", "--timeout=5s")
		return err
	})
}

// createCgroupRoot creates the kubelet's cgroup root in every cgroup v1
// hierarchy (the kubelet refuses a root that does not exist); a cpuset
// cgroup starts with the root's CPUs and memory nodes, or no task could
// join it.
func (c *Cluster) createCgroupRoot() error {
	hierarchies, err := filepath.Glob("/sys/fs/cgroup/*")
	if err != nil {
		return err
	}
	for _, h := range hierarchies {
		if fi, err := os.Stat(h); err != nil || !fi.IsDir() {
			continue
		}
		dir := filepath.Join(h, c.cgroupRoot())
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("cgroup root: %w", err)
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if b, err := os.ReadFile(filepath.Join(h, f)); err == nil {
				if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
					return fmt.Errorf("cgroup root %s: %w", f, err)
				}
			}
		}
	}
	return nil
}

// importImages builds the pause and CoreDNS images and imports them with
// the given archives into containerd's k8s.io namespace.
func (c *Cluster) importImages(ctx context.Context, archives []string) error {
	own, err := c.buildNodeImages(ctx)
	if err != nil {
		return err
	}
	for _, a := range append(own, archives...) {
		if _, err := c.Ctr(ctx, "images", "import", a); err != nil {
			return err
		}
	}
	return nil
}

// Ctr runs containerd's ctr against the cluster's containerd (namespace k8s.io).
func (c *Cluster) Ctr(ctx context.Context, args ...string) (string, error) {
	return c.output(ctx, "", c.tools.Ctr, append([]string{"--address", c.Socket(), "--namespace", "k8s.io"}, args...)...)
}

// Kubectl runs kubectl as the administrator inside the namespace.
func (c *Cluster) Kubectl(ctx context.Context, args ...string) (string, error) {
	return c.KubectlStdin(ctx, "", args...)
}

// KubectlStdin is Kubectl with stdin.
func (c *Cluster) KubectlStdin(ctx context.Context, stdin string, args ...string) (string, error) {
	return c.InNamespace(ctx, stdin, c.tools.Kubectl, append([]string{"--kubeconfig", c.Kubeconfig()}, args...)...)
}

// InNamespace runs bin inside the cluster's network namespace (helm,
// kubectl: the API server listens only there) and returns its stdout.
func (c *Cluster) InNamespace(ctx context.Context, stdin, bin string, args ...string) (string, error) {
	return c.output(ctx, stdin, c.tools.Nsenter, append([]string{"--net=" + netnsPath(c.NetNS), "--", bin}, args...)...)
}

func (c *Cluster) output(ctx context.Context, stdin, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %v\n%s%s", filepath.Base(bin), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

func (c *Cluster) run(ctx context.Context, bin string, args ...string) error {
	_, err := c.output(ctx, "", bin, args...)
	return err
}

// spawn starts a component inside the namespace, logging to
// Dir/logs/<name>.log.
func (c *Cluster) spawn(name, bin string, args ...string) error {
	if err := os.MkdirAll(c.path("logs"), 0o755); err != nil {
		return err
	}
	logFile, err := os.Create(c.path("logs", name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(c.tools.Nsenter, append([]string{"--net=" + netnsPath(c.NetNS), "--", bin}, args...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Own process group, so a terminal's Ctrl-C reaches the owner only
	// (who stops the components in order); killed if the owner dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = logFile.Close(); close(p.done) }()
	c.procs = append(c.procs, p)
	return nil
}

// Logs returns the last 6 KiB of each component's log.
func (c *Cluster) Logs() string {
	var b strings.Builder
	for _, p := range c.procs {
		data, _ := os.ReadFile(c.path("logs", p.name+".log"))
		if len(data) > 6<<10 {
			data = data[len(data)-6<<10:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", p.name, data)
	}
	return b.String()
}

// waitFor retries check until it passes, timeout passes or (while
// starting) a component has exited.
func (c *Cluster) waitFor(ctx context.Context, what string, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		for _, p := range c.procs {
			if !c.stopped && !c.running(p.name) {
				return fmt.Errorf("%s: %s exited (%v): %w", what, p.name, p.cmd.ProcessState, err)
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s: not after %v: %w", what, timeout, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
