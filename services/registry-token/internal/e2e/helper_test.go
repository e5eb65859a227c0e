package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/redis/go-redis/v9"

	"github.com/stellaops/authgate/pkg/testkit/proctest"
	"github.com/stellaops/authgate/pkg/testkit/redistest"
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

// TestTokenHelperRetriesOnNonce: right after the replay store lost its
// data (FLUSHALL on registry-token's Redis), the helper's first request
// falls in the new replay epoch's window and is answered 401
// use_dpop_nonce with a DPoP-Nonce header; its one retry, a proof that
// carries the nonce, gets the token, so the user sees no failure.
func TestTokenHelperRetriesOnNonce(t *testing.T) {
	bin := proctest.Build(t, "./services/registry-token/cmd/registry-token-helper")
	rd := redistest.Start(t)
	e := newEnvWith(t, StackOptions{RedisURL: rd.URL()})
	k := newClientKey(t)
	dir := t.TempDir()
	optok, keyFile := filepath.Join(dir, "optok.jwt"), filepath.Join(dir, "dpop.jwk")
	keyJSON, err := json.Marshal(k.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(optok, []byte(e.opTok(t, planEnterprise, "lic-ent", k)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	before := e.epochRefusals(t)
	rc := redis.NewClient(&redis.Options{Addr: rd.Addr})
	defer rc.Close()
	if err := rc.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	flushed := time.Now()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "--registry", e.registry, "--plain-http", "--realm", e.stack.Realm, "--optok-file", optok,
		"--dpop-key", keyFile, "--scope", "repository:stella-ops/team/app:pull")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("the helper failed after FLUSHALL: %v\n%s", err, stderr.String())
	}
	took := time.Since(flushed)
	if e.registryToken(t, strings.TrimSpace(stdout.String())) == nil {
		t.Fatal("no registry token")
	}
	challenges := e.epochRefusals(t) - before
	switch {
	case challenges > 1:
		t.Fatalf("%d nonce challenges for one helper run, want 1", challenges)
	case challenges == 0 && took < epochWindow-time.Second:
		t.Fatalf("no use_dpop_nonce challenge although the helper ran %s after FLUSHALL: the retry was not exercised", took)
	}
	t.Logf("nonce challenges: %d (helper done %s after FLUSHALL)", challenges, took)
}

// epochWindow is the harness's authority.dpop.clockSkew: fresh proofs
// need a nonce for that long after a new replay epoch.
const epochWindow = 5 * time.Second

// epochRefusals reads registry_token_rejected_total{reason="proof_before_replay_epoch"}
// from the service's /metrics: the use_dpop_nonce answers of the epoch window.
func (e *env) epochRefusals(t *testing.T) int {
	t.Helper()
	resp, err := e.client.Get(e.stack.PublicURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "registry_token_rejected_total{") && strings.Contains(line, `reason="proof_before_replay_epoch"`) {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				t.Fatalf("metrics line %q: %v", line, err)
			}
			n += int(v)
		}
	}
	return n
}
