package images

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestPushThroughRegistryToken is the README's push of the project's own
// images into the development stack's registry: an enterprise OpTok from
// "registry-token-dev token", a registry token for both repositories from
// registry-token-helper written into a Docker config, then IMAGE_REPO
// pushes both multi-arch indexes through the registry's token auth; the
// registry then serves each index under the chart's tag with the digest
// that was built.
func TestPushThroughRegistryToken(t *testing.T) {
	builtImages(t) // compile once, shared with the other tests
	stack := startDevStack(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "client.jwk")
	opTok := runTool(t, "./services/registry-token/cmd/registry-token-dev",
		"token", "--authority", stack.Authority, "--key", keyFile, "--plan", "enterprise", "--sub", "image-push")
	optokFile := filepath.Join(dir, "optok.jwt")
	if err := os.WriteFile(optokFile, []byte(opTok), 0o600); err != nil {
		t.Fatal(err)
	}
	repo := stack.Registry + "/stella-ops/images"
	args := []string{"--registry", stack.Registry, "--plain-http", "--realm", stack.Realm, "--optok-file", optokFile, "--dpop-key", keyFile,
		"--docker-config", filepath.Join(dir, "config.json")}
	for _, svc := range services {
		args = append(args, "--scope", "repository:stella-ops/images/"+svc+":pull,push")
	}
	runTool(t, "./services/registry-token/cmd/registry-token-helper", args...)
	t.Setenv("DOCKER_CONFIG", dir)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	results, err := build(ctx, options{Out: t.TempDir(), Epoch: testEpoch, Services: services, Platforms: platforms,
		Push: repo, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		ref, err := name.ParseReference(r.Pushed)
		if err != nil {
			t.Fatal(err)
		}
		desc, err := remote.Head(ref, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain))
		if err != nil {
			t.Fatalf("%s: %v", r.Pushed, err)
		}
		if desc.Digest.String() != r.Digest {
			t.Errorf("%s: the registry serves %s, built %s", r.Pushed, desc.Digest, r.Digest)
		}
	}
}
