package clients

import (
	"os"
	"path/filepath"
	"testing"
)

// helmEnv gives helm private config, cache and data directories and the
// registry config file (Docker config format) it logs in to.
func helmEnv(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	return []string{"HOME=" + dir, "HELM_CONFIG_HOME=" + filepath.Join(dir, "config"), "HELM_CACHE_HOME=" + filepath.Join(dir, "cache"),
		"HELM_DATA_HOME=" + filepath.Join(dir, "data"), "HELM_REGISTRY_CONFIG=" + filepath.Join(dir, "registry", "config.json")}
}

// helmChart packages a minimal chart and returns the .tgz path.
func helmChart(t *testing.T, helm, name string) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(filepath.Join(src, "templates"), 0o700); err != nil {
		t.Fatal(err)
	}
	chart := "apiVersion: v2\nname: " + name + "\nversion: 0.1.0\ndescription: pushed by the registry client tests\n"
	if err := os.WriteFile(filepath.Join(src, "Chart.yaml"), []byte(chart), 0o600); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	run(t, nil, helm, "package", src, "-d", out)
	return filepath.Join(out, name+"-0.1.0.tgz")
}

// helmPushPull pushes the chart to oci://host/stella-ops/charts and pulls
// it back, comparing the digests helm prints.
func helmPushPull(t *testing.T, helm string, env []string, tgz, chart string, tlsFlags ...string) {
	t.Helper()
	w := getWorld(t)
	pushed := digestOf(t, runCombined(t, env, helm, append([]string{"push", tgz, "oci://" + w.host + "/stella-ops/charts"}, tlsFlags...)...))
	out := t.TempDir()
	got := digestOf(t, runCombined(t, env, helm, append([]string{"pull", "oci://" + w.host + "/stella-ops/charts/" + chart, "--version", "0.1.0", "-d", out}, tlsFlags...)...))
	if got != pushed {
		t.Fatalf("pulled %s, pushed %s", got, pushed)
	}
	if _, err := os.Stat(filepath.Join(out, chart+"-0.1.0.tgz")); err != nil {
		t.Fatal(err)
	}
}

// TestHelm logs in with a certificate-bound OpTok as the password (helm
// registry login uses POST /token, grant_type=password), then pushes and
// pulls an OCI chart with the stored credentials (GET /token with Basic),
// the certificate given with --cert-file and --key-file.
func TestHelm(t *testing.T) {
	helm := tool(t, "helm", "go tool task tools:helm")
	w := getWorld(t)
	env := helmEnv(t)
	tlsFlags := []string{"--ca-file", w.caFile, "--cert-file", w.certFile, "--key-file", w.keyFile}
	mark := w.logs.Len()
	login := append([]string{"registry", "login", w.host, "--username", "oauth2accesstoken", "--password", w.certOpTok(t)}, tlsFlags...)
	run(t, env, helm, login...)
	if w.decisions(mark, "password") == 0 {
		t.Fatalf("helm registry login did not use the password grant:\n%s", w.logs.String()[mark:])
	}
	mark = w.logs.Len()
	helmPushPull(t, helm, env, helmChart(t, helm, "certbound"), "certbound", tlsFlags...)
	if w.decisions(mark, "basic") == 0 {
		t.Fatalf("helm push and pull issued no token through Basic:\n%s", w.logs.String()[mark:])
	}
}
