package cluster

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"relative dir, no tools", Config{Dir: "state"}, []string{`Dir "state" must be an absolute path`, "Tools not set"}},
		{"missing image", Config{Dir: "/tmp/x", Tools: Tools{Kubelet: "kubelet"}, Images: []string{"/nonexistent.oci.tar"}}, []string{"image archive"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if err := (Config{Dir: "/tmp/x", Tools: Tools{Kubelet: "kubelet"}}).Validate(); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
}

// TestNodeConfiguration: the settings the host needs, and nothing that
// could reach outside (public registries nowhere, no masquerade).
func TestNodeConfiguration(t *testing.T) {
	c := &Cluster{ID: "0123abcd", Dir: t.TempDir(), tools: Tools{CNIDir: "/usr/lib/cni"}}
	for _, tc := range []struct {
		name, content string
		want          []string
	}{
		{"containerd", c.containerdConfig(), []string{"restrict_oom_score_adj = true", `snapshotter = "overlayfs"`, "SystemdCgroup = false",
			`sandbox_image = "` + PauseImage + `"`, `config_path = "` + c.path("certs.d") + `"`, `"io.containerd.internal.v1.opt"`}},
		{"kubelet", c.kubeletConfig(), []string{"failCgroupV1: false", "cgroupDriver: cgroupfs", "cgroupRoot: /authgate-k8s-0123abcd", "address: " + NodeIP}},
		{"kube-proxy", c.kubeProxyConfig(), []string{"maxPerCore: 0", `nodePortAddresses: ["` + NodeIP + `/32"]`}},
		{"cni", c.cniConfig(), []string{`"ipMasq": false`, `"dataDir": "` + c.path("cni", "ipam") + `"`}},
		{"coredns", coreDNSManifest(), []string{"clusterIP: " + DNSIP, "image: " + CoreDNSImage}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, w := range tc.want {
				if !strings.Contains(tc.content, w) {
					t.Errorf("lacks %q:\n%s", w, tc.content)
				}
			}
		})
	}
	if strings.Contains(coreDNSManifest(), "forward") {
		t.Error("CoreDNS forwards queries out of the cluster")
	}
	if err := c.registryHosts(); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"docker.io", "registry.k8s.io", "ghcr.io", "quay.io"} {
		b, err := os.ReadFile(c.path("certs.d", r, "hosts.toml"))
		if err != nil || !strings.Contains(string(b), `server = "`+nowhere+`"`) {
			t.Errorf("%s: hosts.toml %q, %v; want the server %s", r, b, err, nowhere)
		}
	}
}

func TestAddRegistryHost(t *testing.T) {
	c := &Cluster{Dir: t.TempDir()}
	if err := c.AddRegistryHost(RegistryHost{Host: "10.96.0.50:5000", Server: "http://10.96.0.50:5000",
		CA: []byte("ca"), ClientCert: []byte("crt"), ClientKey: []byte("key")}); err != nil {
		t.Fatal(err)
	}
	dir := c.path("certs.d", "10.96.0.50:5000")
	b, err := os.ReadFile(filepath.Join(dir, "hosts.toml"))
	if err != nil {
		t.Fatal(err)
	}
	want := `server = "http://10.96.0.50:5000"

[host."http://10.96.0.50:5000"]
  capabilities = ["pull", "resolve"]
  ca = "` + filepath.Join(dir, "ca.crt") + `"
  client = [["` + filepath.Join(dir, "client.crt") + `", "` + filepath.Join(dir, "client.key") + `"]]
`
	if string(b) != want {
		t.Errorf("hosts.toml:\n%s\nwant:\n%s", b, want)
	}
	if key, err := os.ReadFile(filepath.Join(dir, "client.key")); err != nil || string(key) != "key" {
		t.Errorf("client.key %q, %v", key, err)
	}
}

func TestDiff(t *testing.T) {
	before := HostState{"interface": {"eth0", "lo"}, "sysctl": {"net/ipv4/ip_forward=0"}}
	after := HostState{"interface": {"eth0", "lo", "cni0"}, "sysctl": {"net/ipv4/ip_forward=1"}, "mount": {"/run/netns/x"}}
	want := []string{"interface: + cni0", "mount: + /run/netns/x", "sysctl: + net/ipv4/ip_forward=1", "sysctl: - net/ipv4/ip_forward=0"}
	if got := Diff(before, after); !reflect.DeepEqual(got, want) {
		t.Errorf("Diff = %q, want %q", got, want)
	}
	if got := Diff(before, before); len(got) != 0 {
		t.Errorf("Diff of a state with itself = %q", got)
	}
}

func TestUnescapeMount(t *testing.T) {
	if got := unescapeMount(`/tmp/a\040b\134c`); got != `/tmp/a b\c` {
		t.Errorf("got %q", got)
	}
}
