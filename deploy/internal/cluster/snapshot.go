package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// HostState is what a cluster could change on the host, taken before
// Start and after Stop; Diff says what differs.
type HostState map[string][]string

// hostPaths are the directories containerd, the CNI plugins and the
// kubelet write to by default: the cluster's configuration moves
// everything into its state directory, and these must not change.
// (/etc/cni/net.d is left out: podman keeps its CNI lock file there, and
// the cluster's CNI configuration is in its state directory.)
var hostPaths = []string{"/run/containerd", "/run/netns", "/var/lib/cni", "/opt/containerd",
	"/var/lib/kubelet", "/var/lib/containerd", "/var/log/containers", "/var/log/pods",
	"/usr/libexec/kubernetes", "/etc/kubernetes"}

// Snapshot records the host's network interfaces, the iptables and
// ip6tables chains with their rules, the forwarding switches, the kernel
// settings the kubelet writes, the mounts (outside the temporary
// directory), the Kubernetes and containerd cgroups below each
// hierarchy's root and the files in hostPaths.
func Snapshot(ctx context.Context, t Tools) (HostState, error) {
	s := HostState{}
	links, err := exec.CommandContext(ctx, t.IP, "-o", "link", "show").Output()
	if err != nil {
		return nil, fmt.Errorf("ip link: %w", err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(links)), "\n") {
		// "2: eth0: <...> ..." -> "eth0"
		if f := strings.Fields(l); len(f) > 1 {
			s["interface"] = append(s["interface"], strings.TrimSuffix(f[1], ":"))
		}
	}
	for _, family := range []string{t.IPTables, t.IP6Tables} {
		for _, table := range []string{"filter", "nat", "mangle", "raw"} {
			out, err := exec.CommandContext(ctx, family, "-w", "-t", table, "-S").Output()
			if err != nil {
				return nil, fmt.Errorf("%s -t %s -S: %w", filepath.Base(family), table, err)
			}
			for _, rule := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				s[filepath.Base(family)+" "+table] = append(s[filepath.Base(family)+" "+table], rule)
			}
		}
	}
	for _, k := range append([]string{"net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding"}, kernelKeys...) {
		b, err := os.ReadFile("/proc/sys/" + k)
		if err != nil {
			return nil, err
		}
		s["sysctl"] = append(s["sysctl"], k+"="+strings.TrimSpace(string(b)))
	}
	// Mounts under the temporary directory belong to whoever made them
	// (podman tests running beside this one keep their storage there);
	// the cluster's own, under its state directory, are Leftovers'.
	tmp := filepath.Clean(os.TempDir())
	for _, m := range mountsUnder("") {
		if m != tmp && !strings.HasPrefix(m, tmp+"/") {
			s["mount"] = append(s["mount"], m)
		}
	}
	// Top-level cgroups a kubelet or containerd would create; the
	// cluster's own root is Leftovers'.
	cgroups, _ := filepath.Glob("/sys/fs/cgroup/*/*/")
	for _, g := range cgroups {
		name := filepath.Base(g)
		if fi, err := os.Stat(g); err == nil && fi.IsDir() && (strings.Contains(name, "kube") || strings.Contains(name, "k8s") || strings.Contains(name, "containerd")) {
			s["cgroup"] = append(s["cgroup"], filepath.Clean(g))
		}
	}
	for _, p := range hostPaths {
		_ = filepath.WalkDir(p, func(path string, _ os.DirEntry, err error) error {
			if err == nil {
				s["file"] = append(s["file"], path)
			}
			return nil
		})
	}
	for k := range s {
		sort.Strings(s[k])
	}
	return s, nil
}

// Diff lists what after has that before had not ("+") and the reverse
// ("-"), per kind.
func Diff(before, after HostState) []string {
	var out []string
	kinds := map[string]bool{}
	for k := range before {
		kinds[k] = true
	}
	for k := range after {
		kinds[k] = true
	}
	for k := range kinds {
		b, a := set(before[k]), set(after[k])
		for v := range a {
			if !b[v] {
				out = append(out, fmt.Sprintf("%s: + %s", k, v))
			}
		}
		for v := range b {
			if !a[v] {
				out = append(out, fmt.Sprintf("%s: - %s", k, v))
			}
		}
	}
	sort.Strings(out)
	return out
}

func set(l []string) map[string]bool {
	m := map[string]bool{}
	for _, v := range l {
		m[v] = true
	}
	return m
}

// Leftovers lists what a stopped cluster left: processes mentioning its
// state directory or namespace, mounts below the state directory, its
// network namespace and its cgroups.
func (c *Cluster) Leftovers() []string {
	var out []string
	for _, s := range []string{c.Dir, c.NetNS} {
		for _, pid := range processesMentioning(s) {
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			out = append(out, fmt.Sprintf("process %d: %s", pid, strings.ReplaceAll(string(cmdline), "\x00", " ")))
		}
	}
	for _, m := range mountsUnder(c.Dir) {
		out = append(out, "mount "+m)
	}
	if pathExists(netnsPath(c.NetNS)) {
		out = append(out, "network namespace "+c.NetNS)
	}
	if g, _ := filepath.Glob("/sys/fs/cgroup/*/" + c.cgroupRoot()); len(g) > 0 {
		out = append(out, fmt.Sprintf("cgroups %v", g))
	}
	return out
}
