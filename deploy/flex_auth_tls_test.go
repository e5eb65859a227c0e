package deploy_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/stellaops/authgate/deploy/internal/render"
	"github.com/stellaops/authgate/pkg/testkit/certtest"
	"github.com/stellaops/authgate/pkg/testkit/proctest"
)

// tlsRelease is the flex-auth chart with its tls-values.yaml scenario.
func tlsRelease() render.Release {
	r := defaultRelease("flex-auth")
	r.Values = []string{filepath.Join(chartDir("flex-auth"), "ci", "tls-values.yaml")}
	return r
}

// TestFlexAuthChartTLS checks what the chart renders with tls.enabled: the
// Secret mounted read-only, probes and scrapes over HTTPS, and test pods
// that reach the Service by https, the smoke pod trusting only the
// Secret's CA and never mounting its private key.
func TestFlexAuthChartTLS(t *testing.T) {
	objs := renderObjects(t, helmBin(t), tlsRelease())
	dep := workload(t, objs)
	c := dep.Spec.Template.Spec.Containers[0]
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	for name, want := range map[string]string{
		"FLEX_AUTH_SERVER__TLS__CERTFILE":     "/etc/flex-auth/tls/tls.crt",
		"FLEX_AUTH_SERVER__TLS__KEYFILE":      "/etc/flex-auth/tls/tls.key",
		"FLEX_AUTH_SERVER__TLS__CLIENTCAFILE": "/etc/flex-auth/tls/client-ca.crt",
	} {
		if env[name] != want {
			t.Errorf("%s = %q, want %q", name, env[name], want)
		}
	}
	var mounted bool
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/etc/flex-auth/tls" {
			mounted = m.ReadOnly
			for _, v := range dep.Spec.Template.Spec.Volumes {
				if v.Name == m.Name && (v.Secret == nil || v.Secret.SecretName != "flex-auth-tls") {
					t.Errorf("volume %s is not Secret flex-auth-tls", v.Name)
				}
			}
		}
	}
	if !mounted {
		t.Error("the TLS Secret is not mounted read-only at /etc/flex-auth/tls")
	}
	for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Scheme != corev1.URISchemeHTTPS {
			t.Errorf("%s probe is not HTTPS", name)
		}
	}
	sm := one[*render.ServiceMonitor](t, objs)
	if ep := sm.Spec.Endpoints; len(ep) != 1 || ep[0].Scheme != "https" || ep[0].TLSConfig == nil {
		t.Errorf("ServiceMonitor does not scrape over HTTPS: %+v", ep)
	}
	var smoke, healthz *corev1.Pod
	for _, p := range render.Find[*corev1.Pod](objs) {
		switch {
		case strings.HasSuffix(p.Name, "-test-smoke"):
			smoke = p
		case strings.HasSuffix(p.Name, "-test-healthz"):
			healthz = p
		}
	}
	if smoke == nil || healthz == nil {
		t.Fatalf("test pods missing: smoke %v, healthz %v", smoke != nil, healthz != nil)
	}
	if args := healthz.Spec.Containers[0].Args; !strings.HasPrefix(args[len(args)-1], "https://flex-auth.flex-auth.svc:8080/") {
		t.Errorf("healthz test pod args %v", args)
	}
	sc := smoke.Spec.Containers[0]
	if u := argValue(t, sc.Args, "--url"); u != "https://flex-auth.flex-auth.svc:8080" {
		t.Errorf("smoke --url %s", u)
	}
	caFile := argValue(t, sc.Args, "--ca-file")
	if len(smoke.Spec.Volumes) != 1 || smoke.Spec.Volumes[0].Secret == nil {
		t.Fatalf("smoke pod volumes %+v", smoke.Spec.Volumes)
	}
	items := smoke.Spec.Volumes[0].Secret.Items
	if len(items) != 1 || items[0].Key != "ca.crt" || len(sc.VolumeMounts) != 1 ||
		filepath.Join(sc.VolumeMounts[0].MountPath, items[0].Path) != caFile {
		t.Errorf("smoke pod must mount only the CA key at %s: items %+v, mounts %+v", caFile, items, sc.VolumeMounts)
	}
}

// TestFlexAuthChartTLSEnvServesHTTPS starts the real flex-auth with the
// TLS environment the chart renders (the Secret's files standing in from a
// temporary directory) and checks that it answers /healthz over HTTPS with
// that certificate: the variable names reach server.tls.
func TestFlexAuthChartTLSEnvServesHTTPS(t *testing.T) {
	objs := renderObjects(t, helmBin(t), tlsRelease())
	c := workload(t, objs).Spec.Template.Spec.Containers[0]
	dir := t.TempDir()
	pool := writeTLSSecret(t, dir)

	bin := proctest.Build(t, "./services/flex-auth")
	environ := cleanEnv("FLEX_AUTH_")
	var tlsVars int
	for _, e := range c.Env {
		if strings.HasPrefix(e.Name, "FLEX_AUTH_SERVER__TLS__") {
			tlsVars++
			environ = append(environ, e.Name+"="+strings.Replace(e.Value, "/etc/flex-auth/tls", dir, 1))
		}
	}
	if tlsVars != 3 {
		t.Fatalf("%d FLEX_AUTH_SERVER__TLS__ variables rendered, want 3", tlsVars)
	}
	fa := startFlexAuth(t, bin, environ, "--log", filepath.Join(t.TempDir(), "decisions.jsonl"), "--log-level", "warn")
	a := fa.Addr
	if a == "" {
		t.Fatalf("flex-auth did not start with the chart's TLS environment:\n%s", fa.Stop())
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	resp, err := client.Get("https://" + a + "/healthz")
	if err != nil {
		t.Fatalf("GET https://%s/healthz: %v\n%s", a, err, fa.Stop())
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("healthz: %d over TLS %v", resp.StatusCode, resp.TLS != nil)
	}
}

// writeTLSSecret writes what a kubernetes.io/tls Secret for flex-auth holds
// (tls.crt, tls.key, ca.crt, client-ca.crt) and returns a pool with its CA.
func writeTLSSecret(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	c := certtest.SelfSigned(t, "flex-auth", 1)
	c.WriteFiles(t, filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	c.WriteFiles(t, filepath.Join(dir, "ca.crt"), "")
	c.WriteFiles(t, filepath.Join(dir, "client-ca.crt"), "")
	return c.Pool()
}

// flexAuthProcess is a flex-auth started by startFlexAuth.
type flexAuthProcess struct {
	Addr   string // where it listens; "" when it exited or did not listen
	cmd    *exec.Cmd
	stderr strings.Builder
	once   sync.Once
}

// Stop kills the process (once) and returns what it wrote to stderr.
func (p *flexAuthProcess) Stop() string {
	p.once.Do(func() { _ = p.cmd.Process.Kill(); _ = p.cmd.Wait() })
	return p.stderr.String()
}

// startFlexAuth starts bin serve on a free loopback port with the ops-warden
// registry and policy, env and args, and waits up to a minute for it to
// listen. The process is stopped at the test's end.
func startFlexAuth(t *testing.T, bin string, env []string, args ...string) *flexAuthProcess {
	t.Helper()
	p := &flexAuthProcess{cmd: exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0",
		"--registry", "../configs/ops-warden/production_registry_snapshot.json",
		"--policy", "../configs/ops-warden/policy_package.md"}, args...)...)}
	p.cmd.Env = env
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "flex-auth listening on "); ok {
				addr <- a
			}
		}
		close(addr)
	}()
	select {
	case p.Addr = <-addr:
	case <-time.After(60 * time.Second):
	}
	return p
}
