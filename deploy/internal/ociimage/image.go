package ociimage

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Spec describes one service's multi-platform image.
type Spec struct {
	// Service names the binary and the entrypoint ("registry-token").
	Service string
	// Binaries holds the static binary per platform ("linux/amd64").
	Binaries map[string][]byte
	// Created dates the files, the config and the history
	// (SOURCE_DATE_EPOCH).
	Created time.Time
	// Annotations go on the index and every manifest; Labels into every
	// image config (org.opencontainers.image.*).
	Annotations, Labels map[string]string
	// Files are added to every platform's layer (see RootFS).
	Files []File
}

// Build assembles the OCI image index of spec: one image per platform,
// in platform order, each from an empty base plus RootFS.
func Build(spec Spec) (v1.ImageIndex, error) {
	if len(spec.Binaries) == 0 {
		return nil, fmt.Errorf("ociimage: %s: no platforms", spec.Service)
	}
	platforms := make([]string, 0, len(spec.Binaries))
	for p := range spec.Binaries {
		platforms = append(platforms, p)
	}
	sort.Strings(platforms)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		platform, err := v1.ParsePlatform(p)
		if err != nil {
			return nil, fmt.Errorf("ociimage: platform %q: %w", p, err)
		}
		img, err := platformImage(spec, *platform, spec.Binaries[p])
		if err != nil {
			return nil, fmt.Errorf("ociimage: %s %s: %w", spec.Service, p, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: platform, Annotations: spec.Annotations},
		})
	}
	if len(spec.Annotations) > 0 {
		idx = mutate.Annotations(idx, spec.Annotations).(v1.ImageIndex)
	}
	return idx, nil
}

func platformImage(spec Spec, platform v1.Platform, binary []byte) (v1.Image, error) {
	fs, err := RootFS(spec.Service, binary, spec.Created, spec.Files...)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(fs)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: spec.Created.UTC().Truncate(time.Second)}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	base, err = mutate.ConfigFile(base, &v1.ConfigFile{
		Architecture: platform.Architecture,
		OS:           platform.OS,
		Variant:      platform.Variant,
		Created:      created,
		Config: v1.Config{
			User:       User,
			Entrypoint: []string{Entrypoint(spec.Service)},
			Env:        []string{"PATH=" + BinDir, "SSL_CERT_FILE=" + CABundle},
			WorkingDir: "/",
			Labels:     spec.Labels,
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: created, CreatedBy: "go tool task images: " + spec.Service + ", CA bundle, passwd/group for 65532, /tmp"},
	})
	if err != nil {
		return nil, err
	}
	if len(spec.Annotations) > 0 {
		img = mutate.Annotations(img, spec.Annotations).(v1.Image)
	}
	return img, nil
}
