package cluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/stellaops/authgate/deploy/internal/kube"
	"github.com/stellaops/authgate/deploy/internal/render"
)

// CoreDNSVersion is the CoreDNS deploy/tools/install-kube.sh installs.
const CoreDNSVersion = "v1.14.7"

// kubeMarker is what install-kube.sh writes into kube.version once the
// Kubernetes binaries of KubeVersion are built with their version stamped.
const kubeMarker = kube.KubeVersion + " stamped"

const installKube = "deploy/tools/install-kube.sh   (go tool task tools:kube)"

// debianPackages names the packages .ci/run installs for the node.
const debianPackages = "apt-get install containerd runc containernetworking-plugins iptables iproute2 util-linux"

// Tools are the binaries the cluster runs: the pinned Kubernetes
// components, etcd and CoreDNS from the tools cache, and Debian's
// containerd, runc, CNI plugins, iptables and iproute2.
type Tools struct {
	Etcd, APIServer, ControllerManager, Scheduler, Proxy, Kubelet, Kubectl, CoreDNS string
	Containerd, Ctr, Shim, Runc, IP, Nsenter, IPTables, IP6Tables                   string
	// CNIDir holds the bridge, host-local, loopback and portmap plugins.
	CNIDir string
}

// FindTools locates every tool, or says how to install what is missing.
func FindTools() (Tools, error) {
	dir := render.ToolsDir()
	in := func(name string) string { return filepath.Join(dir, name) }
	t := Tools{Etcd: in("etcd"), APIServer: in("kube-apiserver"), ControllerManager: in("kube-controller-manager"),
		Scheduler: in("kube-scheduler"), Proxy: in("kube-proxy"), Kubelet: in("kubelet"), Kubectl: in("kubectl"),
		CoreDNS: in("coredns"), CNIDir: "/usr/lib/cni"}
	var errs []error
	for _, c := range []struct{ marker, want string }{
		{"kube.version", kubeMarker}, {"etcd.version", kube.EtcdVersion}, {"coredns.version", CoreDNSVersion},
	} {
		if b, err := os.ReadFile(in(c.marker)); err != nil || strings.TrimSpace(string(b)) != c.want {
			errs = append(errs, fmt.Errorf("%s: want %q, found %q; install with:\n  %s", in(c.marker), c.want, strings.TrimSpace(string(b)), installKube))
		}
	}
	for _, f := range []string{t.Etcd, t.APIServer, t.ControllerManager, t.Scheduler, t.Proxy, t.Kubelet, t.Kubectl, t.CoreDNS} {
		if _, err := os.Stat(f); err != nil {
			errs = append(errs, fmt.Errorf("%v; install with:\n  %s", err, installKube))
		}
	}
	for _, p := range []struct {
		dst  *string
		name string
	}{
		{&t.Containerd, "containerd"}, {&t.Ctr, "ctr"}, {&t.Shim, "containerd-shim-runc-v2"}, {&t.Runc, "runc"},
		{&t.IP, "ip"}, {&t.Nsenter, "nsenter"}, {&t.IPTables, "iptables"}, {&t.IP6Tables, "ip6tables"},
	} {
		path, err := exec.LookPath(p.name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s not found (%v); install the node's packages with:\n  %s", p.name, err, debianPackages))
		}
		*p.dst = path
	}
	for _, plugin := range []string{"bridge", "host-local", "loopback", "portmap"} {
		if _, err := os.Stat(filepath.Join(t.CNIDir, plugin)); err != nil {
			errs = append(errs, fmt.Errorf("CNI plugin %s: %v; install with:\n  %s", plugin, err, debianPackages))
		}
	}
	return t, errors.Join(errs...)
}
