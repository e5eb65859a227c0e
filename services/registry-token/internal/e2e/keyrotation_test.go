package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
	"github.com/stellaops/authgate/services/registry-token/internal/devstack"
	"github.com/stellaops/authgate/services/registry-token/internal/signing"
)

// fleet is the registry as its clients see it: one address in front of
// replicas that share storage, so that a rollout replaces the replicas
// while clients keep pulling.
type fleet struct {
	t       *testing.T
	stack   *Stack
	storage string
	target  atomic.Pointer[url.URL]
	host    string // host:port clients use
}

func newFleet(t *testing.T, s *Stack) *fleet {
	f := &fleet{t: t, stack: s, storage: t.TempDir()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.host = ln.Addr().String()
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(f.target.Load())
		pr.Out.Host = pr.In.Host // the registry builds URLs with the address clients use
	}}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	f.roll()
	return f
}

// roll starts a replica trusting the key set "registry-token jwks" prints
// for the current configuration (what an operator mounts as the
// registry's auth.token.jwks) and sends every new request to it. The
// replaced replica keeps serving what it has started (it drains). It
// returns the kids the new replica trusts.
func (f *fleet) roll() []string {
	t := f.t
	t.Helper()
	var out, errOut bytes.Buffer
	if err := InProcess(context.Background(), []string{"jwks", "--config", f.stack.ConfigFile}, &out, &errOut, nil); err != nil {
		t.Fatalf("registry-token jwks: %v (%s)", err, errOut.String())
	}
	file := filepath.Join(t.TempDir(), "registry-token.jwks")
	if err := os.WriteFile(file, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r, err := devstack.StartRegistry(context.Background(), ln, devstack.RegistryOptions{
		Realm: f.stack.Realm, Service: f.stack.Service, Issuer: SigningIssuer, JWKSFile: file, StorageDir: f.storage,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	f.target.Store(&url.URL{Scheme: "http", Host: ln.Addr().String()})
	return kidsOf(t, out.Bytes())
}

// kidsOf lists the kids of a JWKS document, sorted.
func kidsOf(t *testing.T, jwks []byte) []string {
	t.Helper()
	kids := authoritytest.KeyIDs(t, jwks)
	slices.Sort(kids)
	return kids
}

// served is what registry-token serves now: /jwks.json kids and the
// active kid of /readyz.
func served(t *testing.T, e *env) (jwks []string, active string) {
	t.Helper()
	get := func(path string) []byte {
		resp, err := e.client.Get(e.stack.PublicURL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return b.Bytes()
	}
	var ready struct {
		Config struct {
			ActiveKeyID string `json:"activeKeyId"`
		} `json:"config"`
	}
	if err := json.Unmarshal(get("/readyz"), &ready); err != nil {
		t.Fatal(err)
	}
	return kidsOf(t, get("/jwks.json")), ready.Config.ActiveKeyID
}

// reconfigure writes the new key set and waits until the service (which
// watches its files) serves it.
func reconfigure(t *testing.T, e *env, keys []SigningKey, wantKids []string, wantActive string) {
	t.Helper()
	if err := e.stack.UpdateConfig(func(c *ServiceConfig) { c.Keys = keys }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(wantKids)
	deadline := time.Now().Add(20 * time.Second)
	for {
		kids, active := served(t, e)
		if slices.Equal(kids, wantKids) && active == wantActive {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("service serves kids %v active %s, want %v active %s", kids, active, wantKids, wantActive)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func kidOfFile(t *testing.T, file string) string {
	t.Helper()
	k, err := signing.Load(signing.Options{File: file})
	if err != nil {
		t.Fatal(err)
	}
	return k.KeyID()
}

// TestSigningKeyRotation goes through a whole rotation of the signing key
// with the real distribution registry while clients keep pulling: publish
// the next key, roll the registry, promote the next key and retire the old
// one (with retiredAt), drop the old key and roll the registry again. Each
// pull takes a new registry token, so the old key is dropped as soon as
// every puller has pulled with a token of the new key, instead of after
// signing.lifetime. Not one pull may fail.
func TestSigningKeyRotation(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := StartStack(ctx, StackOptions{Dir: t.TempDir(), Plans: fixturePlans(), DefaultPlan: planCommunity, Watch: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	e := &env{stack: s, client: s.HTTPClient(nil, nil)}
	f := newFleet(t, s)
	e.registry = f.host
	oldKey := s.KeyFile
	newKey := filepath.Join(t.TempDir(), "signing-next.pem")
	if err := signing.WriteNewKey(newKey); err != nil {
		t.Fatal(err)
	}
	oldKid, newKid := kidOfFile(t, oldKey), kidOfFile(t, newKey)

	// Content to pull, pushed before the rotation.
	pusher := newClientKey(t)
	pushOpts, _ := e.remoteOptions(e.opTok(t, planEnterprise, "lic-ent", pusher), pusher)
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref := e.ref(t, "stella-ops/public/base:rotation")
	if err := remote.Write(ref, img, pushOpts...); err != nil {
		t.Fatalf("push: %v", err)
	}
	want, _ := img.Digest()

	// Pullers: each pull is a new client (a new registry token), reads the
	// manifest and a blob.
	const pullers = 4
	var (
		wg      sync.WaitGroup
		stop    atomic.Bool
		ok, bad atomic.Int64
		phase   atomic.Int64 // rotation step the test is in
		mu      sync.Mutex
		done    = map[int64][]int{} // step -> pulls completed per puller that started in it
	)
	for p := range pullers {
		k := newClientKey(t)
		tok := e.opTok(t, planCommunity, "lic-com", k)
		wg.Go(func() {
			for !stop.Load() {
				step := phase.Load()
				opts, _ := e.remoteOptions(tok, k)
				err := pull(ref, want, opts)
				if err != nil {
					bad.Add(1)
					t.Errorf("pull during step %d failed: %v", step, err)
					time.Sleep(50 * time.Millisecond) // the test has failed: do not flood
					continue
				}
				ok.Add(1)
				mu.Lock()
				if done[step] == nil {
					done[step] = make([]int, pullers)
				}
				done[step][p]++
				mu.Unlock()
			}
		})
	}
	// settle waits until every puller completed two pulls started in this
	// step (so none still holds a token from before it).
	settle := func(step int64) {
		deadline := time.Now().Add(60 * time.Second)
		for {
			mu.Lock()
			n := 0
			if len(done[step]) == pullers {
				n = slices.Min(done[step])
			}
			mu.Unlock()
			if n >= 2 || t.Failed() {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("step %d: pulls do not progress", step)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	next := func() int64 { return phase.Add(1) }

	settle(phase.Load())
	// A token of the old key, to show at the end that the last registry
	// refuses it, so that the pulls above really depended on the rotation.
	oldToken := f.token(t, e, oldKid)
	f.wantManifest(t, oldToken, http.StatusOK)

	// 1. Publish the next key: registry-token serves it in /jwks.json.
	reconfigure(t, e, []SigningKey{{File: oldKey, Status: "active"}, {File: newKey, Status: "next"}},
		[]string{oldKid, newKid}, oldKid)
	settle(next())
	// 2. Roll the registry: the new replicas trust both keys.
	if got := f.roll(); !slices.Equal(got, sorted(oldKid, newKid)) {
		t.Fatalf("rolled registry trusts %v", got)
	}
	settle(next())
	// 3. Promote the next key, retire the old one (published until the
	// tokens it signed expire).
	reconfigure(t, e, []SigningKey{{File: newKey, Status: "active"},
		{File: oldKey, Status: "retired", RetiredAt: time.Now().UTC().Format(time.RFC3339)}},
		[]string{oldKid, newKid}, newKid)
	f.wantManifest(t, f.token(t, e, newKid), http.StatusOK)
	f.wantManifest(t, oldToken, http.StatusOK) // still trusted while it may be valid
	settle(next())
	// 4. Drop the retired key (its tokens have expired: every pull since
	// step 3 used a token of the new key) and roll the registry.
	reconfigure(t, e, []SigningKey{{File: newKey, Status: "active"}}, []string{newKid}, newKid)
	if got := f.roll(); !slices.Equal(got, []string{newKid}) {
		t.Fatalf("rolled registry trusts %v", got)
	}
	settle(next())
	stop.Store(true)
	wg.Wait()
	f.wantManifest(t, oldToken, http.StatusUnauthorized)

	if bad.Load() != 0 || ok.Load() == 0 {
		t.Fatalf("%d pulls failed, %d succeeded", bad.Load(), ok.Load())
	}
	t.Logf("rotation %s -> %s: %d pulls, 0 failed", oldKid, newKid, ok.Load())
}

func sorted(s ...string) []string { slices.Sort(s); return s }

// token gets a pull token from registry-token and checks its kid.
func (f *fleet) token(t *testing.T, e *env, wantKid string) string {
	t.Helper()
	k := newClientKey(t)
	optok := e.opTok(t, planCommunity, "lic-com", k)
	r := e.getToken(t, "DPoP "+optok, []string{e.proof(t, k, optok)}, scopeQuery(f.stack.Service, "repository:stella-ops/public/base:pull"))
	wantStatus(t, r, http.StatusOK)
	tok, _ := r.Body["token"].(string)
	msg, err := jws.Parse([]byte(tok))
	if err != nil {
		t.Fatal(err)
	}
	if kid := msg.Signatures()[0].ProtectedHeaders().KeyID(); kid != wantKid {
		t.Fatalf("token signed by %s, want %s", kid, wantKid)
	}
	return tok
}

// wantManifest presents tok to the registry for the rotation image.
func (f *fleet) wantManifest(t *testing.T, tok string, want int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+f.host+"/v2/stella-ops/public/base/manifests/rotation", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("manifest with the token: %d, want %d", resp.StatusCode, want)
	}
}

// pull reads the manifest and one blob of ref with a new client.
func pull(ref name.Reference, want interface{ String() string }, opts []remote.Option) error {
	img, err := remote.Image(ref, opts...)
	if err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	if d.String() != want.String() {
		return &mismatch{got: d.String()}
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}

type mismatch struct{ got string }

func (m *mismatch) Error() string { return "pulled digest " + m.got }
