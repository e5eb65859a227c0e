package clients

import (
	"os"
	"strings"
	"testing"
)

// TestRegctl configures the registry's CA and client certificate with
// "regctl registry set", logs in with a certificate-bound OpTok as the
// password, copies an OCI layout in and back out, and compares digests.
func TestRegctl(t *testing.T) {
	regctl := tool(t, "regctl", "go tool task tools:regctl")
	w := getWorld(t)
	home := t.TempDir()
	env := []string{"HOME=" + home, "DOCKER_CONFIG=" + home}
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// "registry set" pings the registry without credentials: that fails
	// (401) before the login, but the configuration is stored.
	_, errOut, err := runErr(env, regctl, "registry", "set", w.host, "--tls", "enabled", "--cacert", read(w.caFile),
		"--client-cert", read(w.certFile), "--client-key", read(w.keyFile))
	if err != nil && !strings.Contains(errOut, "configuration still updated") {
		t.Fatalf("regctl registry set: %v: %s", err, errOut)
	}
	mark := w.logs.Len()
	run(t, env, regctl, "registry", "login", w.host, "--user", "oauth2accesstoken", "--pass", w.certOpTok(t))
	src := t.TempDir()
	want := ociImage(t, src)
	ref := w.host + "/stella-ops/team/regctl:v1"
	run(t, env, regctl, "image", "copy", "ocidir://"+src+":v1", ref)
	if got := strings.TrimSpace(run(t, env, regctl, "image", "digest", ref)); got != want {
		t.Fatalf("registry holds %s, pushed %s", got, want)
	}
	dst := t.TempDir()
	run(t, env, regctl, "image", "copy", ref, "ocidir://"+dst+":v1")
	if got := layoutDigest(t, dst, "v1"); got != want {
		t.Fatalf("pulled %s, pushed %s", got, want)
	}
	if w.decisions(mark, "basic")+w.decisions(mark, "password") == 0 {
		t.Fatalf("no token issued through Basic or the password grant:\n%s", w.logs.String()[mark:])
	}
	t.Logf("regctl: tokens through Basic %d, password grant %d", w.decisions(mark, "basic"), w.decisions(mark, "password"))
}
