package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stellaops/authgate/pkg/testkit/proctest"
)

// TestTokenHelper runs the registry-token-helper binary as a user would:
// it checks that the registry's challenge names the realm it is given, fetches a registry token
// with a DPoP-bound OpTok and writes it into a Docker config, from which
// go-containerregistry's default keychain (crane's) pushes.
func TestTokenHelper(t *testing.T) {
	bin := proctest.Build(t, "./services/registry-token/cmd/registry-token-helper")
	e := newEnv(t, nil)
	k := newClientKey(t)
	dir := t.TempDir()
	optok := filepath.Join(dir, "optok.jwt")
	keyFile := filepath.Join(dir, "dpop.jwk")
	keyJSON, err := json.Marshal(k.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(optok, []byte(e.opTok(t, planEnterprise, "lic-ent", k)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	helper := func(extra ...string) (string, string, error) {
		args := append([]string{"--registry", e.registry, "--plain-http", "--realm", e.stack.Realm, "--optok-file", optok, "--dpop-key", keyFile}, extra...)
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return strings.TrimSpace(stdout.String()), stderr.String(), err
	}

	t.Run("prints a token for the scopes asked for", func(t *testing.T) {
		out, stderr, err := helper("--scope", "repository:stella-ops/team/app:pull,push repository:other/x:pull")
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		access := e.registryToken(t, out).PrivateClaims()["access"]
		b, _ := json.Marshal(access)
		if string(b) != `[{"actions":["pull","push"],"name":"stella-ops/team/app","type":"repository"}]` {
			t.Fatalf("access %s", b)
		}
		if !strings.Contains(stderr, "not granted: repository:other/x:pull") {
			t.Fatalf("no notice of the refused scope: %q", stderr)
		}
	})

	t.Run("writes the Docker config crane reads", func(t *testing.T) {
		cfgDir := t.TempDir()
		cfg := filepath.Join(cfgDir, "config.json")
		_, stderr, err := helper("--scope", "repository:stella-ops/team/app:pull,push", "--docker-config", cfg)
		if err != nil || !strings.Contains(stderr, "expires in 300s") {
			t.Fatalf("%v: %s", err, stderr)
		}
		t.Setenv("DOCKER_CONFIG", cfgDir)
		img, err := random.Image(512, 1)
		if err != nil {
			t.Fatal(err)
		}
		ref := e.ref(t, "stella-ops/team/app:helper")
		opts := []remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithTransport(LoopbackTransport(nil, nil)), remote.WithContext(context.Background())}
		if err := remote.Write(ref, img, opts...); err != nil {
			t.Fatalf("push with the helper's token: %v", err)
		}
		// Only the scopes asked for: another repository is refused.
		if err := remote.Write(e.ref(t, "stella-ops/team/other:helper"), img, opts...); statusOf(err) != 401 && statusOf(err) != 403 {
			t.Fatalf("push outside the token's scopes: %v, want a refusal", err)
		}
	})

	t.Run("an OpTok bound to another key is refused", func(t *testing.T) {
		other := newClientKey(t)
		if err := os.WriteFile(optok, []byte(e.opTok(t, planEnterprise, "lic-ent", other)), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, stderr, err := helper("--scope", "repository:stella-ops/team/app:pull"); err == nil || !strings.Contains(stderr, "401") {
			t.Fatalf("%v: %s", err, stderr)
		}
	})
}
