package clients

import (
	"os"
	"path/filepath"
	"testing"
)

// orasPushPull pushes a file artifact to ref with the flags given, pulls
// it back into a new directory and compares digests and content.
func orasPushPull(t *testing.T, oras, ref string, env []string, flags ...string) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "artifact.txt")
	if err := os.WriteFile(file, []byte("pushed by oras to "+ref+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// oras speaks plain HTTP to localhost unless told otherwise.
	flags = append([]string{"--plain-http=false"}, flags...)
	pushed := digestOf(t, runIn(t, dir, env, oras, append(append([]string{"push"}, flags...), ref, "artifact.txt")...))
	out := t.TempDir()
	if got := digestOf(t, run(t, env, oras, append(append([]string{"pull"}, flags...), "-o", out, ref)...)); got != pushed {
		t.Fatalf("pulled %s, pushed %s", got, pushed)
	}
	a, _ := os.ReadFile(file)
	b, err := os.ReadFile(filepath.Join(out, "artifact.txt"))
	if err != nil || string(a) != string(b) {
		t.Fatalf("pulled content %q (%v), pushed %q", b, err, a)
	}
}

// TestOras pushes and pulls with a certificate-bound OpTok, the
// certificate given with --cert-file/--key-file: as the password (GET
// /token with Basic) and as the identity token (POST /token,
// grant_type=refresh_token). oras presents its certificate only to the
// registry's own origin, so the realm is served on the registry's host
// (the front: an ingress forwarding the certificate).
func TestOras(t *testing.T) {
	oras := tool(t, "oras", "go tool task tools:oras")
	w := getWorld(t)
	f := getFront(t)
	home := t.TempDir()
	env := []string{"HOME=" + home, "DOCKER_CONFIG=" + home}
	tok := f.certOpTok(t, w)
	tlsFlags := []string{"--ca-file", w.caFile, "--cert-file", w.certFile, "--key-file", w.keyFile}

	t.Run("password: GET with Basic", func(t *testing.T) {
		mark := w.logs.Len()
		orasPushPull(t, oras, f.host+"/stella-ops/team/oras:basic", env, append(tlsFlags, "-u", "oauth2accesstoken", "-p", tok)...)
		if w.decisions(mark, "basic") == 0 {
			t.Fatalf("no token issued through Basic:\n%s", w.logs.String()[mark:])
		}
	})
	t.Run("identity token: POST refresh_token grant", func(t *testing.T) {
		mark := w.logs.Len()
		orasPushPull(t, oras, f.host+"/stella-ops/team/oras:refresh", env, append(tlsFlags, "--identity-token", tok)...)
		if w.decisions(mark, "refresh_token") == 0 {
			t.Fatalf("no token issued through the refresh_token grant:\n%s", w.logs.String()[mark:])
		}
	})
	t.Run("a realm on another origin gets no certificate", func(t *testing.T) {
		// The same OpTok against the registry whose realm is elsewhere: oras
		// withholds the certificate there, and registry-token refuses.
		_, errOut, err := runErr(env, oras, append(append([]string{"pull", "--plain-http=false"}, tlsFlags...),
			"-u", "oauth2accesstoken", "-p", w.certOpTok(t), "-o", t.TempDir(), w.host+"/stella-ops/team/oras:none")...)
		if err == nil || !containsAll(errOut, "401", "No client certificate was presented") {
			t.Fatalf("want registry-token's 401 for a missing certificate: %v %s", err, errOut)
		}
	})
}

// TestOrasWithDPoPHelper pushes and pulls with a DPoP-bound OpTok through
// the registry token registry-token-helper wrote into --registry-config.
func TestOrasWithDPoPHelper(t *testing.T) {
	oras := tool(t, "oras", "go tool task tools:oras")
	w := getWorld(t)
	cfg := helperConfig(t, "repository:stella-ops/team/oras-dpop:pull,push")
	orasPushPull(t, oras, w.host+"/stella-ops/team/oras-dpop:v1", []string{"HOME=" + t.TempDir()}, "--ca-file", w.caFile, "--registry-config", cfg)
}
