package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/services/registry-token/internal/devauthority"
	"github.com/stellaops/authgate/services/registry-token/internal/dpopclient"
)

// DemoOptions points the demo at a running stack.
type DemoOptions struct {
	// Registry is the registry's host:port ("localhost:5000").
	Registry string
	// Realm is registry-token's token URL ("http://localhost:8085/token").
	Realm string
	// Service is the registry service name (DefaultService).
	Service string
	// Authority is the development Authority's base URL.
	Authority string
	// FlexAuthURL and FlexAuthBin run "flex-auth smoke" against flex-auth;
	// an empty FlexAuthBin skips that step. Actor is the smoke's actor.
	FlexAuthURL, FlexAuthBin, Actor string
	// Repository is where the demo pushes (default stella-ops/public/demo).
	Repository string
	// Out receives one line per step.
	Out io.Writer
}

// demo holds the state the steps share.
type demo struct {
	o      DemoOptions
	client *http.Client
	image  v1.Image
	ent    *dpop.Transport // enterprise plan: pull and push
	com    *dpop.Transport // community plan: pull only
}

// Demo pushes a generated image through the full Bearer flow (registry
// challenge, registry-token with a DPoP-bound OpTok, registry), pulls it
// back, shows that a pull-only plan cannot push, sends the documented sample
// token request, and runs the flex-auth smoke. It prints each step and
// stops at the first failure, which it returns.
func Demo(ctx context.Context, o DemoOptions) error {
	if o.Service == "" {
		o.Service = DefaultService
	}
	if o.Repository == "" {
		o.Repository = "stella-ops/public/demo"
	}
	if o.Actor == "" {
		o.Actor = DefaultActor
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	d := &demo{o: o, client: HTTPClient(30 * time.Second)}
	defer d.client.CloseIdleConnections()
	steps := []struct {
		name string
		run  func(context.Context) (string, error)
	}{
		{"OpToks from the development Authority", d.opToks},
		{"push " + o.Repository + ":v1 (plan enterprise)", d.push},
		{"pull it back (plan community)", d.pull},
		{"push with plan community is denied", d.deniedPush},
		{"the documented sample: GET /token with Bearer OpTok + DPoP", d.documentedSample},
		{"flex-auth smoke --actor " + o.Actor, d.smoke},
	}
	for i, s := range steps {
		detail, err := s.run(ctx)
		if err != nil {
			fmt.Fprintf(o.Out, "FAIL %d. %s: %v\n", i+1, s.name, err)
			return fmt.Errorf("demo step %d (%s): %w", i+1, s.name, err)
		}
		fmt.Fprintf(o.Out, "ok   %d. %s: %s\n", i+1, s.name, detail)
	}
	fmt.Fprintln(o.Out, "demo: pass")
	return nil
}

func (d *demo) opToks(ctx context.Context) (string, error) {
	var err error
	if d.ent, err = d.transport(ctx, "enterprise"); err != nil {
		return "", err
	}
	if d.com, err = d.transport(ctx, "community"); err != nil {
		return "", err
	}
	return "enterprise and community OpToks, each bound to its own DPoP key (cnf.jkt)", nil
}

func (d *demo) transport(ctx context.Context, plan string) (*dpop.Transport, error) {
	return d.newTransport(ctx, devauthority.TokenRequest{Subject: "demo-" + plan, Plan: plan, License: "lic-demo-" + plan})
}

// newTransport asks the Authority for an OpTok bound to a new DPoP key
// and returns the transport that spends it at the realm.
func (d *demo) newTransport(ctx context.Context, r devauthority.TokenRequest) (*dpop.Transport, error) {
	key, err := dpopclient.NewKey()
	if err != nil {
		return nil, err
	}
	tok, err := devauthority.RequestToken(ctx, d.client, TokenEndpoint(d.o.Authority), key.Key, key.Alg, r)
	if err != nil {
		return nil, err
	}
	return &dpop.Transport{Base: LoopbackTransport(nil), Realm: d.o.Realm, AccessToken: tok.AccessToken, Key: key.Key, Alg: key.Alg}, nil
}

func (d *demo) ref(tag string) (name.Reference, error) {
	return name.ParseReference(d.o.Registry+"/"+d.o.Repository+":"+tag, name.Insecure)
}

func (d *demo) push(ctx context.Context) (string, error) {
	img, err := random.Image(1024, 2)
	if err != nil {
		return "", err
	}
	ref, err := d.ref("v1")
	if err != nil {
		return "", err
	}
	before := d.ent.RealmCalls()
	if err := remote.Write(ref, img, remote.WithTransport(d.ent), remote.WithContext(ctx)); err != nil {
		return "", err
	}
	if d.ent.RealmCalls() == before {
		return "", errors.New("the push did not go through registry-token")
	}
	d.image = img
	digest, err := img.Digest()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s (challenge -> registry-token -> registry)", digest), nil
}

func (d *demo) pull(ctx context.Context) (string, error) {
	ref, err := d.ref("v1")
	if err != nil {
		return "", err
	}
	got, err := remote.Image(ref, remote.WithTransport(d.com), remote.WithContext(ctx))
	if err != nil {
		return "", err
	}
	want, err := d.image.Digest()
	if err != nil {
		return "", err
	}
	digest, err := got.Digest()
	if err != nil {
		return "", err
	}
	if digest != want {
		return "", fmt.Errorf("pulled %s, pushed %s", digest, want)
	}
	layers, err := got.Layers()
	if err != nil || len(layers) == 0 {
		return "", fmt.Errorf("layers: %d, %v", len(layers), err)
	}
	rc, err := layers[0].Compressed() // fetches a blob through the registry's auth
	if err != nil {
		return "", err
	}
	n, err := io.Copy(io.Discard, rc)
	_ = rc.Close()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("same digest, %d layers, first blob %d bytes", len(layers), n), nil
}

func (d *demo) deniedPush(ctx context.Context) (string, error) {
	ref, err := d.ref("community")
	if err != nil {
		return "", err
	}
	img, err := random.Image(256, 1)
	if err != nil {
		return "", err
	}
	err = remote.Write(ref, img, remote.WithTransport(d.com), remote.WithContext(ctx))
	var terr *transport.Error
	switch {
	case err == nil:
		return "", errors.New("the push succeeded with a pull-only plan")
	case errors.As(err, &terr) && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden):
		return fmt.Sprintf("denied as expected (HTTP %d from the registry: the token grants pull only)", terr.StatusCode), nil
	}
	return "", fmt.Errorf("want a 401/403 denial, got %w", err)
}

// documentedSample sends the documented curl sample: Authorization: Bearer <OpTok>
// plus a DPoP proof, and prints the access the token grants.
func (d *demo) documentedSample(ctx context.Context) (string, error) {
	q := url.Values{"service": {d.o.Service}, "scope": {"repository:" + d.o.Repository + ":pull"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.o.Realm+"?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	proof, err := dpop.NewProof(d.com.Key, d.com.Alg, http.MethodGet, d.o.Realm, d.com.AccessToken, "", time.Now())
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+d.com.AccessToken)
	req.Header.Set("DPoP", proof)
	resp, err := d.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	var tr struct {
		Token     string `json:"token"`
		ExpiresIn int    `json:"expires_in"`
		IssuedAt  string `json:"issued_at"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.Token == "" {
		return "", fmt.Errorf("malformed response: %s", body)
	}
	return fmt.Sprintf("200, registry token expires in %ds (issued %s)", tr.ExpiresIn, tr.IssuedAt), nil
}

func (d *demo) smoke(ctx context.Context) (string, error) {
	if d.o.FlexAuthBin == "" {
		return "skipped (no flex-auth binary given)", nil
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, d.o.FlexAuthBin, "smoke", "--url", d.o.FlexAuthURL, "--actor", d.o.Actor)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w\n%s", err, indent(out.String()))
	}
	return "pass\n" + indent(out.String()), nil
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	return "       " + strings.ReplaceAll(s, "\n", "\n       ")
}
