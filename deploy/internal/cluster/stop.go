package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// kernelKeys are the host-wide settings the kubelet writes at start.
var kernelKeys = []string{"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes"}

type kernelSettings map[string]string

func readKernelSettings() (kernelSettings, error) {
	s := kernelSettings{}
	for _, k := range kernelKeys {
		b, err := os.ReadFile("/proc/sys/" + k)
		if err != nil {
			return nil, err
		}
		s[k] = strings.TrimSpace(string(b))
	}
	return s, nil
}

// Stop tears the cluster down and undoes every change to the host, in
// order: the pods are deleted through the API server while the kubelet
// runs (so it unmounts their volumes and the CNI plugin releases their
// network namespaces), then the node components, containerd and any
// shim it left, the API server before etcd, leftover mounts under Dir,
// the cgroups, the network namespace (its interfaces and iptables chains
// go with it), the kernel settings and the files outside Dir. It returns
// every step that failed; a second call does nothing.
func (c *Cluster) Stop() error {
	if c.stopped {
		return nil
	}
	c.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	began := time.Now()
	var errs []error
	if c.running("kubelet") && c.running("kube-apiserver") {
		c.stopProcs("kube-controller-manager", "kube-scheduler")
		if err := c.drain(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	c.stopProcs("kube-controller-manager", "kube-scheduler", "kube-proxy", "kubelet")
	if c.running("containerd") {
		if err := c.killTasks(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	c.stopProcs("containerd")
	errs = append(errs, c.killShims())
	c.stopProcs("kube-apiserver", "etcd")
	c.stopProcs() // anything else
	errs = append(errs, unmountUnder(c.Dir), c.removeCgroups())
	if err := c.run(ctx, c.tools.IP, "netns", "delete", c.NetNS); err != nil && pathExists(netnsPath(c.NetNS)) {
		errs = append(errs, err)
	}
	errs = append(errs, c.restoreKernelSettings(), c.removeCreated())
	c.logf("stopped (%v)", time.Since(began).Round(time.Second))
	return errors.Join(errs...)
}

func (c *Cluster) running(name string) bool {
	for _, p := range c.procs {
		if p.name == name {
			select {
			case <-p.done:
				return false
			default:
				return true
			}
		}
	}
	return false
}

// drain deletes every pod and waits until the kubelet has cleaned them up.
func (c *Cluster) drain(ctx context.Context) error {
	if _, err := c.Kubectl(ctx, "delete", "pods", "--all", "--all-namespaces", "--grace-period=1", "--wait=false"); err != nil {
		return err
	}
	return c.waitFor(ctx, "pods deleted", 2*time.Minute, func() error {
		out, err := c.Kubectl(ctx, "get", "pods", "--all-namespaces", "-o", "name")
		if err != nil {
			return err
		}
		if s := strings.TrimSpace(out); s != "" {
			return errors.New("still there: " + strings.ReplaceAll(s, "\n", " "))
		}
		return nil
	})
}

// killTasks stops whatever containerd still runs (after a failed drain).
func (c *Cluster) killTasks(ctx context.Context) error {
	out, err := c.Ctr(ctx, "tasks", "list", "--quiet")
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range strings.Fields(out) {
		_, _ = c.Ctr(ctx, "tasks", "kill", "--signal", "SIGKILL", id)
		if err := c.waitFor(ctx, "task "+id+" deleted", 20*time.Second, func() error {
			_, err := c.Ctr(ctx, "tasks", "delete", id)
			return err
		}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// stopProcs stops the named components (all still running when none is
// named) in the order given: SIGTERM, then SIGKILL after 15 s.
func (c *Cluster) stopProcs(names ...string) {
	if len(names) == 0 {
		for i := len(c.procs) - 1; i >= 0; i-- {
			names = append(names, c.procs[i].name)
		}
	}
	for _, name := range names {
		for _, p := range c.procs {
			if p.name != name {
				continue
			}
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(15 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}
	}
}

// killShims kills the runc shims of this containerd (they outlive it by
// design) and waits until they are gone.
func (c *Cluster) killShims() error {
	for _, pid := range processesMentioning(c.Socket()) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if left := processesMentioning(c.Socket()); len(left) == 0 {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("containerd shims still running: %v", processesMentioning(c.Socket()))
}

// processesMentioning lists the processes whose command line contains s.
func processesMentioning(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), s) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer func() { _ = f.Close() }()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

func unmountUnder(dir string) error {
	var errs []error
	for _, mp := range mountsUnder(dir) {
		if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", mp, err))
		}
	}
	return errors.Join(errs...)
}

// removeCgroups removes the kubelet's cgroup root in every hierarchy,
// deepest directories first (cgroup directories go with rmdir only).
func (c *Cluster) removeCgroups() error {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/" + c.cgroupRoot())
	if p := "/sys/fs/cgroup/" + c.cgroupRoot(); pathExists(p) {
		roots = append(roots, p)
	}
	var errs []error
	for _, root := range roots {
		var dirs []string
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := rmdirRetry(dirs[i]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// rmdirRetry retries while the kernel still counts exiting tasks.
func rmdirRetry(dir string) error {
	var err error
	for range 50 {
		if err = syscall.Rmdir(dir); err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("remove cgroup %s: %w", dir, err)
}

func (c *Cluster) restoreKernelSettings() error {
	var errs []error
	for k, v := range c.before {
		b, err := os.ReadFile("/proc/sys/" + k)
		if err == nil && strings.TrimSpace(string(b)) == v {
			continue
		}
		if err := os.WriteFile("/proc/sys/"+k, []byte(v+"\n"), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restore %s=%s: %w", k, v, err))
		}
	}
	return errors.Join(errs...)
}

// removeCreated removes the kubelet's container log links into Dir and
// the host directories that did not exist before Start, once empty.
func (c *Cluster) removeCreated() error {
	links, _ := filepath.Glob("/var/log/containers/*")
	for _, l := range links {
		if target, err := os.Readlink(l); err == nil && strings.HasPrefix(target, c.Dir+"/") {
			_ = os.Remove(l)
		}
	}
	var errs []error
	for _, p := range c.created {
		if p == "/var/lib/kubelet" {
			// The kubelet leaves its registration socket behind.
			_ = os.Remove(filepath.Join(p, "device-plugins", "kubelet.sock"))
		}
		if err := removeEmptyTree(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeEmptyTree removes dir if it holds nothing but empty directories.
func removeEmptyTree(dir string) error {
	var dirs []string
	var files []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		} else {
			files = append(files, p)
		}
		return nil
	})
	if len(files) > 0 {
		return nil // in use by another containerd; Snapshot and Diff say whether it is ours
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Remove(dirs[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func pathExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
