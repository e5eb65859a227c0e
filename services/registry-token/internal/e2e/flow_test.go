package e2e

import (
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// statusOf returns the HTTP status of a go-containerregistry error, or 0.
func statusOf(err error) int {
	var terr *transport.Error
	if errors.As(err, &terr) {
		return terr.StatusCode
	}
	return 0
}

// TestRegistryFlow drives go-containerregistry against the real registry,
// which sends it to registry-token for bearer tokens; the client's
// transport presents a DPoP-bound OpTok and a fresh proof on every realm
// request.
func TestRegistryFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	entKey := newClientKey(t)
	entOpts, entTr := e.remoteOptions(e.opTok(t, planEnterprise, "lic-ent", entKey), entKey)

	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	public := e.ref(t, "stella-ops/public/base:v1")

	t.Run("push, pull and pull by digest", func(t *testing.T) {
		before := entTr.RealmCalls()
		if err := remote.Write(public, img, entOpts...); err != nil {
			t.Fatalf("push: %v", err)
		}
		if entTr.RealmCalls() == before {
			t.Fatal("push did not go through the token realm")
		}
		got, err := remote.Image(public, entOpts...)
		if err != nil {
			t.Fatalf("pull: %v", err)
		}
		if d, _ := got.Digest(); d != want {
			t.Fatalf("pulled digest %s, pushed %s", d, want)
		}
		byDigest, err := name.NewDigest(e.registry+"/stella-ops/public/base@"+want.String(), name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		got, err = remote.Image(byDigest, entOpts...)
		if err != nil {
			t.Fatalf("pull by digest: %v", err)
		}
		layers, err := got.Layers()
		if err != nil || len(layers) != 2 {
			t.Fatalf("layers: %d, %v", len(layers), err)
		}
		// Reading a layer fetches the blob through the registry's auth.
		if _, err := layers[0].Compressed(); err != nil {
			t.Fatalf("blob: %v", err)
		}
	})

	t.Run("pull-only plan pulls but cannot push", func(t *testing.T) {
		k := newClientKey(t)
		opts, _ := e.remoteOptions(e.opTok(t, planCommunity, "lic-com", k), k)
		got, err := remote.Image(public, opts...)
		if err != nil {
			t.Fatalf("community pull: %v", err)
		}
		if d, _ := got.Digest(); d != want {
			t.Fatalf("pulled digest %s, want %s", d, want)
		}
		other, err := random.Image(512, 1)
		if err != nil {
			t.Fatal(err)
		}
		target := e.ref(t, "stella-ops/public/base:community-push")
		err = remote.Write(target, other, opts...)
		if err == nil {
			t.Fatal("community push succeeded")
		}
		if s := statusOf(err); s != http.StatusUnauthorized && s != http.StatusForbidden {
			t.Fatalf("community push failed with %v (status %d), want a 401/403 refusal", err, s)
		}
		if _, err := remote.Head(target, entOpts...); statusOf(err) != http.StatusNotFound {
			t.Fatalf("after the refused push, HEAD of the tag: %v (want 404)", err)
		}
	})

	t.Run("repository outside the plan is refused by the token service", func(t *testing.T) {
		k := newClientKey(t)
		opts, tr := e.remoteOptions(e.opTok(t, planCommunity, "lic-com", k), k)
		_, err := remote.Image(e.ref(t, "stella-ops/team/app:v1"), opts...)
		if statusOf(err) != http.StatusForbidden {
			t.Fatalf("pull outside the plan: %v, want 403 from /token", err)
		}
		if tr.RealmCalls() == 0 {
			t.Fatal("the refusal did not come from the token realm")
		}
	})

	t.Run("revoked licence is refused", func(t *testing.T) {
		k := newClientKey(t)
		opts, _ := e.remoteOptions(e.opTok(t, planEnterprise, revokedLicense, k), k)
		if _, err := remote.Image(public, opts...); statusOf(err) != http.StatusForbidden {
			t.Fatalf("pull with a revoked licence: %v, want 403", err)
		}
	})

	t.Run("catalog only when the plan grants it", func(t *testing.T) {
		reg, err := name.NewRegistry(e.registry, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		repos, err := remote.Catalog(t.Context(), reg, entOpts...)
		if err != nil {
			t.Fatalf("enterprise catalog: %v", err)
		}
		if !slices.Contains(repos, "stella-ops/public/base") {
			t.Fatalf("catalog %v misses the pushed repository", repos)
		}
		k := newClientKey(t)
		opts, _ := e.remoteOptions(e.opTok(t, planCommunity, "lic-com", k), k)
		if _, err := remote.Catalog(t.Context(), reg, opts...); statusOf(err) != http.StatusForbidden {
			t.Fatalf("community catalog: %v, want 403", err)
		}
	})

	t.Run("registry token for one repository is refused for another", func(t *testing.T) {
		k := newClientKey(t)
		tok := e.opTok(t, planEnterprise, "lic-ent", k)
		r := e.getToken(t, "DPoP "+tok, []string{e.proof(t, k, tok)}, scopeQuery(e.stack.Service, "repository:stella-ops/public/base:pull"))
		wantStatus(t, r, http.StatusOK)
		regTok, _ := r.Body["token"].(string)
		manifest := func(repo string) int {
			req, err := http.NewRequest(http.MethodGet, "http://"+e.registry+"/v2/"+repo+"/manifests/v1", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+regTok)
			req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			return resp.StatusCode
		}
		if s := manifest("stella-ops/public/base"); s != http.StatusOK {
			t.Fatalf("token for stella-ops/public/base: GET its manifest = %d, want 200", s)
		}
		if s := manifest("stella-ops/team/app"); s != http.StatusUnauthorized {
			t.Fatalf("token for stella-ops/public/base: GET stella-ops/team/app manifest = %d, want 401", s)
		}
	})

	t.Run("OAuth2 POST form with the OpTok as identity token", func(t *testing.T) {
		// With an identity token go-containerregistry POSTs the OAuth2 form
		// (grant_type=refresh_token) to the realm; the transport adds the
		// proof for POST and the OpTok rides in the form.
		k := newClientKey(t)
		tok := e.opTok(t, planCommunity, "lic-com", k)
		opts, tr := e.remoteOptions(tok, k)
		opts = append(opts, remote.WithAuth(authn.FromConfig(authn.AuthConfig{IdentityToken: tok})))
		got, err := remote.Image(public, opts...)
		if err != nil {
			t.Fatalf("pull through POST /token: %v", err)
		}
		if d, _ := got.Digest(); d != want {
			t.Fatalf("pulled digest %s, want %s", d, want)
		}
		if tr.RealmCalls() != 1 {
			t.Fatalf("%d realm calls, want the one POST", tr.RealmCalls())
		}
		// Refusal next to it: an identity token that is not the OpTok.
		opts, _ = e.remoteOptions(tok, k)
		opts = append(opts, remote.WithAuth(authn.FromConfig(authn.AuthConfig{IdentityToken: "refresh-token"})))
		if _, err := remote.Image(public, opts...); statusOf(err) != http.StatusUnauthorized {
			t.Fatalf("pull with a foreign identity token: %v, want 401", err)
		}
	})

	t.Run("proof from another key is refused", func(t *testing.T) {
		k := newClientKey(t)
		opts, _ := e.remoteOptions(e.opTok(t, planEnterprise, "lic-ent", k), newClientKey(t))
		if _, err := remote.Image(public, opts...); statusOf(err) != http.StatusUnauthorized {
			t.Fatalf("pull with a proof by another key: %v, want 401", err)
		}
	})
}
