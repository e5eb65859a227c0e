package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The cluster's addresses. They exist only inside the cluster's network
// namespace, which has no route out: the node address sits on the
// namespace's loopback interface, the pods on a bridge the CNI plugin
// creates there.
const (
	NodeIP      = "10.250.0.1"
	NodeName    = "authgate-node"
	PodCIDR     = "10.244.0.0/24"
	ServiceCIDR = "10.96.0.0/24"
	// DNSIP is the ClusterIP of CoreDNS (kube-system/kube-dns).
	DNSIP = "10.96.0.10"
	// APIPort is kube-apiserver's port on NodeIP.
	APIPort = 6443
	// Domain is the cluster domain.
	Domain = "cluster.local"
)

// PauseImage is the sandbox image (deploy/cmd/k8s-pause), imported, never
// pulled.
const PauseImage = "authgate.local/k8s/pause:1"

// CoreDNSImage is CoreDNS from the tools cache on an empty base.
const CoreDNSImage = "authgate.local/k8s/coredns:" + CoreDNSVersion

// publicRegistries are pointed at a closed port on the namespace's
// loopback: an image that was not imported fails to pull instead of
// leaving the machine.
var publicRegistries = []string{"docker.io", "registry-1.docker.io", "registry.k8s.io", "k8s.gcr.io", "gcr.io", "ghcr.io", "quay.io", "mcr.microsoft.com", "public.ecr.aws"}

// nowhere is a port nothing listens on in the namespace.
const nowhere = "https://127.0.0.1:9"

func (c *Cluster) path(parts ...string) string {
	return filepath.Join(append([]string{c.Dir}, parts...)...)
}

func writeFile(path, content string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(content), mode)
}

func (c *Cluster) containerdConfig() string {
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
# Plugins that would write outside the state directories.
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[5]q
  # root here lacks CAP_SYS_RESOURCE: without this runc fails to lower
  # oom_score_adj below its own.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_cdi = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = %[6]q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[7]q
    conf_dir = %[8]q
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %[9]q
`, c.path("containerd", "root"), c.path("containerd", "state"), c.Socket(), c.Socket()+".ttrpc",
		PauseImage, c.path("runc"), c.tools.CNIDir, c.path("cni", "net.d"), c.path("certs.d"))
}

// registryHosts points every public registry nowhere (hosts.toml per
// registry, containerd's registry configuration).
func (c *Cluster) registryHosts() error {
	for _, r := range publicRegistries {
		content := fmt.Sprintf("server = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n", nowhere, nowhere)
		if err := writeFile(c.path("certs.d", r, "hosts.toml"), content, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) cniConfig() string {
	return fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "authgate",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "agk8s0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": %q,
        "ranges": [[{"subnet": %q}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`, c.path("cni", "ipam"), PodCIDR)
}

func (c *Cluster) kubeletConfig() string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# The host runs cgroup v1 and PID 1 is not systemd.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /%[1]s
containerRuntimeEndpoint: unix://%[2]s
address: %[3]s
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: %[4]s
tlsPrivateKeyFile: %[5]s
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %[6]s}
authorization: {mode: Webhook}
clusterDNS: [%[7]s]
clusterDomain: %[8]s
resolvConf: %[9]s
podLogsDir: %[10]s
volumePluginDir: %[11]s
failSwapOn: false
protectKernelDefaults: false
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%%, imagefs.available: 1%%, nodefs.inodesFree: 1%%}
syncFrequency: 10s
fileCheckFrequency: 10s
nodeStatusUpdateFrequency: 5s
shutdownGracePeriod: 0s
`, c.cgroupRoot(), c.Socket(), NodeIP, c.path("pki", "kubelet.crt"), c.path("pki", "kubelet.key"),
		c.path("pki", "ca.crt"), DNSIP, Domain, c.path("resolv.conf"), c.path("pod-logs"), c.path("volume-plugins"))
}

func (c *Cluster) kubeProxyConfig() string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: %q}
hostnameOverride: %s
mode: iptables
clusterCIDR: %s
bindAddress: %s
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: ["%s/32"]
iptables: {localhostNodePorts: false}
# Leave the host's conntrack limits and timeouts alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
`, c.kubeconfig("kube-proxy"), NodeName, PodCIDR, NodeIP, NodeIP)
}

// users are the static tokens of the components (the API server's
// --token-auth-file), each with the user the bootstrap RBAC roles name.
var users = []struct{ name, user, groups string }{
	{"admin", "admin", "system:masters"},
	{"kubelet", "system:node:" + NodeName, "system:nodes"},
	{"kube-proxy", "system:kube-proxy", ""},
	{"kube-controller-manager", "system:kube-controller-manager", ""},
	{"kube-scheduler", "system:kube-scheduler", ""},
}

func (c *Cluster) kubeconfig(name string) string { return c.path("kubeconfig", name) }

func (c *Cluster) writeKubeconfigs() error {
	var tokens strings.Builder
	for _, u := range users {
		token, err := randomHex(16)
		if err != nil {
			return err
		}
		fmt.Fprintf(&tokens, "%s,%s,%s,%q\n", token, u.user, u.user, u.groups)
		kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
  - name: authgate
    cluster: {server: "https://%s:%d", certificate-authority: %q}
users:
  - name: %s
    user: {token: %q}
contexts:
  - name: authgate
    context: {cluster: authgate, user: %s}
current-context: authgate
`, NodeIP, APIPort, c.path("pki", "ca.crt"), u.name, token, u.name)
		if err := writeFile(c.kubeconfig(u.name), kc, 0o600); err != nil {
			return err
		}
	}
	return writeFile(c.path("pki", "tokens.csv"), tokens.String(), 0o600)
}

// coreDNSManifest runs CoreDNS as kube-system/coredns behind the kube-dns
// Service at DNSIP. It answers for the cluster domain only: there is no
// forward plugin, so no query leaves the cluster.
func coreDNSManifest() string {
	return fmt.Sprintf(`apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
  - apiGroups: [""]
    resources: [endpoints, services, pods, namespaces]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:1053 {
        errors
        health :8080
        ready :8181
        kubernetes %[1]s in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
            ttl 5
        }
        cache 5
        loop
        reload
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      securityContext: {runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532}
      containers:
        - name: coredns
          image: %[2]s
          imagePullPolicy: Never
          args: [-conf, /etc/coredns/Corefile]
          ports:
            - {name: dns, containerPort: 1053, protocol: UDP}
            - {name: dns-tcp, containerPort: 1053, protocol: TCP}
          readinessProbe:
            httpGet: {path: /ready, port: 8181}
            periodSeconds: 2
          livenessProbe:
            httpGet: {path: /health, port: 8080}
          securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
          volumeMounts: [{name: config, mountPath: /etc/coredns, readOnly: true}]
      volumes:
        - name: config
          configMap: {name: coredns}
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  clusterIP: %[3]s
  selector: {k8s-app: kube-dns}
  ports:
    - {name: dns, port: 53, targetPort: 1053, protocol: UDP}
    - {name: dns-tcp, port: 53, targetPort: 1053, protocol: TCP}
`, Domain, CoreDNSImage, DNSIP)
}

// RegistryHost is containerd's configuration for a registry the node
// pulls from (certs.d/<Host>/hosts.toml): where it is, the CA that signed
// the registry's and its token realm's certificates, and the client
// certificate containerd presents to both (the one a certificate-bound
// OpTok in an imagePullSecret is bound to).
type RegistryHost struct {
	// Host is the registry as images name it ("10.96.0.50:5000").
	Host string
	// Server is its URL ("http://10.96.0.50:5000").
	Server string
	// CA, ClientCert and ClientKey are PEM documents (optional).
	CA, ClientCert, ClientKey []byte
}

// AddRegistryHost writes h's hosts.toml; containerd reads it at the next
// pull.
func (c *Cluster) AddRegistryHost(h RegistryHost) error {
	dir := c.path("certs.d", h.Host)
	var b strings.Builder
	fmt.Fprintf(&b, "server = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n", h.Server, h.Server)
	for _, f := range []struct {
		name, key string
		data      []byte
	}{{"ca.crt", "ca", h.CA}, {"client.crt", "", h.ClientCert}, {"client.key", "", h.ClientKey}} {
		if len(f.data) == 0 {
			continue
		}
		if err := writeFile(filepath.Join(dir, f.name), string(f.data), 0o600); err != nil {
			return err
		}
		if f.key != "" {
			fmt.Fprintf(&b, "  %s = %q\n", f.key, filepath.Join(dir, f.name))
		}
	}
	if len(h.ClientCert) > 0 {
		fmt.Fprintf(&b, "  client = [[%q, %q]]\n", filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key"))
	}
	return writeFile(filepath.Join(dir, "hosts.toml"), b.String(), 0o644)
}
