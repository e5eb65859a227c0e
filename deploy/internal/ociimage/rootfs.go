// Package ociimage assembles the services' container images from an
// empty base: one layer holding the static binary, a CA bundle, passwd and
// group entries for user 65532 and an empty /tmp mount point, and nothing
// else. The same inputs always give the same bytes (file times and the
// image's creation time come from one given instant), so two builds of one
// commit have the same index digest.
package ociimage

import (
	"archive/tar"
	"bytes"
	"encoding/pem"
	"fmt"
	"path"
	"strings"
	"time"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// The image layout the charts rely on.
const (
	// UID and GID run the service (runAsUser / runAsGroup in the charts).
	UID = 65532
	GID = 65532
	// User is the image config's user.
	User = "65532:65532"
	// BinDir holds the service binary; the entrypoint is BinDir/<service>.
	BinDir = "/usr/local/bin"
	// CABundle is where Go's crypto/x509 looks first on Linux.
	CABundle = "/etc/ssl/certs/ca-certificates.crt"
)

// Entrypoint is the image entrypoint of service.
func Entrypoint(service string) string { return BinDir + "/" + service }

const passwd = "nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n"
const group = "nonroot:x:65532:\n"

// CAPEM is the Mozilla NSS root store pinned by golang.org/x/crypto's
// x509roots/fallback module (so it changes only with go.mod), as PEM.
// Roots that NSS constrains beyond what X.509 can say (distrust-after
// dates) are left out rather than trusted without their constraint.
func CAPEM() []byte {
	var b bytes.Buffer
	for root := range bundle.Roots() {
		if root.Constraint != nil {
			continue
		}
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate})
	}
	return b.Bytes()
}

// File is an extra file of a layer (an image that is not one of the
// services: the test cluster's images). Name is relative ("usr/lib/x.so").
type File struct {
	Name string
	Mode int64
	Data []byte
}

type entry struct {
	name string
	mode int64
	dir  bool
	data []byte
}

// RootFS is the image's single layer, an uncompressed tar: every entry is
// owned by root (the service cannot change its own files) and dated
// mtime, except /tmp (mode 1777), where the charts mount a writable volume.
// The extra files follow, each after its missing parent directories.
func RootFS(service string, binary []byte, mtime time.Time, extra ...File) ([]byte, error) {
	if service == "" || len(binary) == 0 {
		return nil, fmt.Errorf("ociimage: service %q has no binary", service)
	}
	entries := []entry{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: CAPEM()},
		{name: "tmp/", mode: 0o1777, dir: true},
		{name: "usr/", mode: 0o755, dir: true},
		{name: "usr/local/", mode: 0o755, dir: true},
		{name: "usr/local/bin/", mode: 0o755, dir: true},
		{name: "usr/local/bin/" + service, mode: 0o755, data: binary},
	}
	have := map[string]bool{}
	for _, e := range entries {
		have[e.name] = true
	}
	for _, f := range extra {
		parts := strings.Split(path.Dir(f.Name), "/")
		for i := range parts {
			if d := strings.Join(parts[:i+1], "/") + "/"; d != "./" && !have[d] {
				entries, have[d] = append(entries, entry{name: d, mode: 0o755, dir: true}), true
			}
		}
		if have[f.Name] {
			return nil, fmt.Errorf("ociimage: %s: %s twice", service, f.Name)
		}
		entries, have[f.Name] = append(entries, entry{name: f.Name, mode: f.Mode, data: f.Data}), true
	}
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, ModTime: mtime.UTC().Truncate(time.Second),
			Typeflag: tar.TypeReg, Size: int64(len(e.data)), Format: tar.FormatPAX}
		if e.dir {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := w.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := w.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
