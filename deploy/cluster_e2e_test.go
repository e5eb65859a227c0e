package deploy_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stellaops/authgate/deploy/internal/cluster"
)

// The test's own images (built by the test, imported, never pulled).
const (
	curlImage    = "authgate.local/test/curl:1"
	devImage     = "authgate.local/test/registry-token-dev:1"
	redisImage   = "authgate.local/test/redis:1"
	regImage     = "authgate.local/test/registry:1"
	flexAuthURL  = "http://flex-auth.flex-auth.svc.cluster.local:8080"
	authorityDNS = "authority.authority.svc.cluster.local"
)

// TestClusterEndToEnd brings up the single-node cluster of
// deploy/internal/cluster (root; the Kubernetes binaries from
// deploy/tools/install-kube.sh, containerd, runc and the CNI plugins from
// Debian), imports the services' images and the test's own, and installs
// the flex-auth and registry-token charts with helm, wired as in
// production (deploy/examples/registry plus testdata/cluster): every pod
// must become Ready through its probes, helm test must pass, the
// flex-auth pre-flight runs from a pod through the Service name, and a
// client pod pushes to the in-cluster registry through registry-token
// (and is refused a push its plan lacks), the kubelet pulls a private
// image through registry-token (and is refused one the plan of its
// credentials lacks, for the reason registry-token logs), and `helm
// upgrade` of both releases rolls every pod while a client's requests all
// succeed. At the end the cluster is torn
// down and the host must be as before: same interfaces, iptables and
// ip6tables rules, forwarding and kernel settings, mounts, cgroups and
// files where containerd and the kubelet write by default, and no
// process left.
func TestClusterEndToEnd(t *testing.T) {
	tools, err := cluster.FindTools()
	if err == nil && os.Geteuid() != 0 {
		err = fmt.Errorf("the cluster needs root (network namespace, mounts, cgroups); running as uid %d", os.Geteuid())
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	helm := helmBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	// One cluster per machine at a time: the host snapshot would see a
	// second run's namespace, mounts and cgroups come and go.
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "authgate-k8s-e2e.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lock.Close() }) // after the teardown check (cleanups run last first)
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	images := buildClusterImages(ctx, t)
	t.Logf("images built in %v", time.Since(began).Round(time.Second))

	before, err := cluster.Snapshot(ctx, tools)
	if err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	c, err := cluster.Start(ctx, cluster.Config{Dir: t.TempDir(), Tools: tools, Images: images, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster up in %v", time.Since(up).Round(time.Second))
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := c.Kubectl(context.Background(), "get", "pods", "-A", "-o", "wide")
			events, _ := c.Kubectl(context.Background(), "get", "events", "-A", "--sort-by=.lastTimestamp")
			t.Logf("pods:\n%s\nevents:\n%s\ncomponents:\n%s", out, tail(events, 8<<10), c.Logs())
		}
		down := time.Now()
		if err := c.Stop(); err != nil {
			t.Errorf("teardown: %v", err)
		}
		t.Logf("teardown in %v", time.Since(down).Round(time.Second))
		after, err := cluster.Snapshot(context.Background(), tools)
		if err != nil {
			t.Fatal(err)
		}
		if diff := append(cluster.Diff(before, after), c.Leftovers()...); len(diff) > 0 {
			t.Errorf("the host differs from before the cluster:\n  %s", strings.Join(diff, "\n  "))
		}
	})

	e := &e2e{t: t, c: c, helm: helm, ctx: ctx, pki: newPullPKI(t)}
	t.Run("no route out of the namespace", func(t *testing.T) {
		routes := e.inNamespace(t, "ip", "-4", "route", "show", "table", "all")
		for _, r := range strings.Split(strings.TrimSpace(routes), "\n") {
			if strings.HasPrefix(r, "default") {
				t.Errorf("the cluster's namespace has a default route: %s", r)
			}
		}
		if rules := e.inNamespace(t, "iptables", "-w", "-S", "AUTHGATE-EGRESS"); !strings.Contains(rules, "-j DROP") {
			t.Errorf("no egress drop for the pods:\n%s", rules)
		}
		if nat := e.inNamespace(t, "iptables", "-w", "-t", "nat", "-S", "POSTROUTING"); strings.Contains(nat, "CNI-") {
			t.Errorf("the bridge plugin masquerades pod traffic:\n%s", nat)
		}
	})
	e.kubectl(t, "apply", "-f", "testdata/cluster/backends.yaml")
	for _, s := range []struct{ ns, name string }{{"authority", "authority-tls"}, {"registry-token", "registry-token-tls"}} {
		e.kubectl(t, "-n", s.ns, "create", "secret", "generic", s.name, "--from-file=tls.crt="+e.pki.file(s.name+".crt"),
			"--from-file=tls.key="+e.pki.file(s.name+".key"), "--from-file=ca.crt="+e.pki.file("ca.crt"))
	}
	e.kubectl(t, "-n", "default", "create", "configmap", "e2e-ca", "--from-file=ca.crt="+e.pki.file("ca.crt"))
	e.kubectl(t, "-n", "registry-token", "create", "secret", "generic", "registry-token-signing",
		"--from-file=signing.pem=../configs/registry-signing-sample.pem")
	e.kubectl(t, "-n", "registry-token", "create", "secret", "generic", "registry-token-redis",
		"--from-literal=redis-url=redis://redis.redis.svc.cluster.local:6379/0")
	// The DPoP nonce key both replicas share (authority.dpop.nonceKeys).
	nonceKey := make([]byte, 32)
	if _, err := rand.Read(nonceKey); err != nil {
		t.Fatal(err)
	}
	e.kubectl(t, "-n", "registry-token", "create", "secret", "generic", "registry-token-dpop-nonce",
		"--from-literal=nonce-keys="+base64.StdEncoding.EncodeToString(nonceKey))
	for _, d := range []string{"authority/authority", "redis/redis"} {
		ns, name, _ := strings.Cut(d, "/")
		e.kubectl(t, "-n", ns, "rollout", "status", "deployment/"+name, "--timeout=180s")
	}

	e.helmRun(t, "install", "flex-auth", "helm/flex-auth", "-n", "flex-auth", "--create-namespace",
		"-f", "examples/registry/flex-auth-values.yaml", "-f", "testdata/cluster/flex-auth-values.yaml",
		"--wait", "--timeout", "5m")
	e.helmRun(t, "install", "registry-token", "helm/registry-token", "-n", "registry-token",
		"-f", "examples/registry/registry-token-values.yaml", "-f", "testdata/cluster/registry-token-values.yaml",
		"--wait", "--timeout", "5m")
	e.kubectl(t, "-n", "registry", "rollout", "status", "deployment/registry", "--timeout=180s")

	t.Run("every pod Ready", func(t *testing.T) {
		out := e.kubectl(t, "get", "pods", "-A", "-o",
			`jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
		n := 0
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			n++
			if !strings.HasSuffix(line, " True") {
				t.Errorf("not Ready: %s", line)
			}
		}
		if n < 7 { // CoreDNS, Authority, Redis, registry, flex-auth, registry-token x2
			t.Errorf("%d pods, want at least 7:\n%s", n, out)
		}
		if replicas := e.kubectl(t, "-n", "registry-token", "get", "deployment/registry-token", "-o", "jsonpath={.status.readyReplicas}"); replicas != "2" {
			t.Errorf("registry-token ready replicas %q, want 2", replicas)
		}
	})

	t.Run("helm test", func(t *testing.T) {
		e.helmRun(t, "test", "flex-auth", "-n", "flex-auth", "--timeout", "3m")
		e.helmRun(t, "test", "registry-token", "-n", "registry-token", "--timeout", "3m")
	})

	t.Run("flex-auth pre-flight from a pod", func(t *testing.T) {
		out := e.runPod(t, "default", "preflight", curlImage, nil, "-fsS", "--max-time", "5", flexAuthURL+"/healthz")
		if !strings.Contains(out, "ops-warden") || !strings.Contains(out, "registry-access") {
			t.Errorf("flex-auth /healthz through its Service name does not list both packages:\n%s", out)
		}
	})

	t.Run("client pod pushes through registry-token", func(t *testing.T) {
		out := e.runPod(t, "default", "registry-client", devImage, []string{"/usr/local/bin/registry-token-dev"},
			"demo", "--registry", "registry.registry.svc.cluster.local:5000",
			"--token-url", "https://registry-token.registry-token.svc.cluster.local:8085/token",
			"--service", "registry.example.com",
			"--authority", "http://authority.authority.svc.cluster.local:8081",
			"--flex-auth", flexAuthURL, "--flex-auth-bin", "")
		for _, want := range []string{"ok   2. push", "ok   3. pull", "ok   4. push with plan community is denied", "demo: pass"} {
			if !strings.Contains(out, want) {
				t.Errorf("client output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("private image", e.kubeletPull)
	t.Run("helm upgrade under load", e.helmUpgradeUnderLoad)
}

// e2e drives the cluster for one test.
type e2e struct {
	t    *testing.T
	c    *cluster.Cluster
	helm string
	ctx  context.Context
	pki  *pullPKI
}

func (e *e2e) kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := e.c.Kubectl(e.ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

func (e *e2e) inNamespace(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := e.c.InNamespace(e.ctx, "", bin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *e2e) helmRun(t *testing.T, args ...string) string {
	t.Helper()
	began := time.Now()
	out, err := e.c.InNamespace(e.ctx, "", e.helm, append(args, "--kubeconfig", e.c.Kubeconfig())...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("helm %s %s: %v", args[0], args[1], time.Since(began).Round(time.Second))
	return out
}

// runPod runs a pod to completion and returns its log; it fails the test
// when the pod does not succeed. The pod trusts the test's CA
// (SSL_CERT_FILE) and has a writable /tmp.
func (e *e2e) runPod(t *testing.T, ns, name, image string, command []string, args ...string) string {
	t.Helper()
	overrides := fmt.Sprintf(`{"spec":{"automountServiceAccountToken":false,"securityContext":{"runAsNonRoot":true,"runAsUser":65532,"runAsGroup":65532},"containers":[{"name":%q,"image":%q,"imagePullPolicy":"Never",%s"args":%s,"workingDir":"/tmp","env":[{"name":"SSL_CERT_FILE","value":"/etc/e2e/ca.crt"}],"securityContext":{"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,"capabilities":{"drop":["ALL"]}},"volumeMounts":[{"name":"tmp","mountPath":"/tmp"},{"name":"ca","mountPath":"/etc/e2e","readOnly":true}]}],"volumes":[{"name":"tmp","emptyDir":{}},{"name":"ca","configMap":{"name":"e2e-ca"}}]}}`,
		name, image, commandJSON(command), jsonList(args))
	e.kubectl(t, "-n", ns, "run", name, "--image", image, "--restart=Never", "--overrides", overrides)
	phase := ""
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		phase = e.kubectl(t, "-n", ns, "get", "pod", name, "-o", "jsonpath={.status.phase}")
		if phase == "Succeeded" || phase == "Failed" {
			break
		}
		time.Sleep(time.Second)
	}
	logs := e.kubectl(t, "-n", ns, "logs", name)
	if phase != "Succeeded" {
		t.Fatalf("pod %s/%s: phase %s; log:\n%s", ns, name, phase, logs)
	}
	return logs
}

func commandJSON(command []string) string {
	if len(command) == 0 {
		return ""
	}
	return `"command":` + jsonList(command) + ","
}

func jsonList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// buildClusterImages builds the services' images (linux, this machine's
// architecture) with the images command and the test's own images, and
// returns their OCI archives.
func buildClusterImages(ctx context.Context, t *testing.T) []string {
	t.Helper()
	root, err := cluster.ModuleRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.CommandContext(ctx, "go", "run", "./deploy/cmd/images", "--out", dir, "--platforms", "linux/"+goarch())
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("images: %v\n%s", err, out)
	}
	archives := []string{filepath.Join(dir, "registry-token.oci.tar"), filepath.Join(dir, "flex-auth.oci.tar")}
	var own []cluster.Image
	for _, b := range []struct{ ref, name, pkg string }{
		{devImage, "registry-token-dev", "./services/registry-token/cmd/registry-token-dev"},
		{regImage, "k8s-registry", "./deploy/cmd/k8s-registry"},
	} {
		bin, err := cluster.GoBinary(ctx, root, b.pkg)
		if err != nil {
			t.Fatal(err)
		}
		own = append(own, cluster.Image{Ref: b.ref, Name: b.name, Binary: bin})
	}
	for _, h := range []struct{ ref, bin string }{{curlImage, "/usr/bin/curl"}, {redisImage, "/usr/bin/redis-server"}} {
		img, err := cluster.HostBinaryImage(ctx, h.ref, h.bin)
		if err != nil {
			t.Fatal(err)
		}
		own = append(own, img)
	}
	for _, img := range own {
		a, err := cluster.WriteImage(dir, img)
		if err != nil {
			t.Fatal(err)
		}
		archives = append(archives, a)
	}
	return archives
}

// testLog writes the cluster's progress lines to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func goarch() string { return runtime.GOARCH }
