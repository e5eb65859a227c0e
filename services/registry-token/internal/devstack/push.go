package devstack

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/stellaops/authgate/services/registry-token/internal/devauthority"
)

// PushOptions says which program to push as an image, where, and with
// which plan's OpTok.
type PushOptions struct {
	// Registry is the registry's host:port (plain HTTP, as the demo's).
	Registry string
	// Realm is registry-token's token URL.
	Realm string
	// Authority is the development Authority's base URL.
	Authority string
	// Repository and Tag name the image.
	Repository, Tag string
	// Plan and Subject are the OpTok's stellaops:plan and sub.
	Plan, Subject string
	// File is the program the image holds, at /usr/local/bin/<its name>,
	// as its entrypoint; Args are the image's command.
	File string
	Args []string
}

// Push builds an image whose only layer holds o.File (mode 0755) with that
// program as its entrypoint, for this machine's platform, and pushes it
// through the registry's Bearer flow with a DPoP-bound OpTok of o.Plan. It
// returns the pushed reference by digest.
func Push(ctx context.Context, o PushOptions) (string, error) {
	if o.Registry == "" || o.Realm == "" || o.Authority == "" || o.Repository == "" || o.File == "" {
		return "", errors.New("push: registry, realm, authority, repository and file are required")
	}
	if o.Tag == "" {
		o.Tag = "latest"
	}
	if o.Subject == "" {
		o.Subject = "push-" + o.Plan
	}
	img, err := ProgramImage(o.File, o.Args)
	if err != nil {
		return "", err
	}
	ref, err := name.ParseReference(o.Registry+"/"+o.Repository+":"+o.Tag, name.Insecure)
	if err != nil {
		return "", fmt.Errorf("push: %w", err)
	}
	d := &demo{o: DemoOptions{Authority: o.Authority, Realm: o.Realm}, client: HTTPClient(30 * time.Second)}
	defer d.client.CloseIdleConnections()
	tr, err := d.newTransport(ctx, devauthority.TokenRequest{Subject: o.Subject, Plan: o.Plan})
	if err != nil {
		return "", fmt.Errorf("push: OpTok: %w", err)
	}
	before := tr.RealmCalls()
	if err := remote.Write(ref, img, remote.WithTransport(tr), remote.WithContext(ctx)); err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	if tr.RealmCalls() == before {
		return "", errors.New("push: the push did not go through registry-token")
	}
	digest, err := img.Digest()
	if err != nil {
		return "", err
	}
	return ref.Context().Digest(digest.String()).String(), nil
}

// ProgramImage is an image of one program: file at /usr/local/bin/<its
// base name>, owned by root, mode 0755, as the entrypoint; args the
// command; linux on this machine's architecture.
func ProgramImage(file string, args []string) (v1.Image, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	target := path.Join("/usr/local/bin", path.Base(file))
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, dir := range []string{"usr/", "usr/local/", "usr/local/bin/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: target[1:], Mode: 0o755, Size: int64(len(data))}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b.Bytes())), nil
	})
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	cfg.Config.Entrypoint = []string{target}
	cfg.Config.Cmd = args
	cfg.Config.User = "65532:65532"
	return mutate.ConfigFile(img, cfg)
}
