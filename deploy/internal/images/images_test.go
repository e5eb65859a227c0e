package images

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"debug/elf"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/stellaops/authgate/deploy/internal/ociimage"
	"github.com/stellaops/authgate/pkg/testkit/proctest"
)

// testEpoch is the SOURCE_DATE_EPOCH of the test builds.
const testEpoch = "1700000000"

var (
	services  = []string{"registry-token", "flex-auth"}
	platforms = []string{"linux/amd64", "linux/arm64"}
	machines  = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
)

var shared struct {
	once    sync.Once
	dir     string
	results []result
	err     error
}

// builtImages builds both images for both platforms once per test binary
// (as "go tool task images" does) and returns the results.
func builtImages(t *testing.T) []result {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "images-test-")
		if shared.err == nil {
			shared.results, shared.err = buildInto(shared.dir)
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.results
}

func buildInto(dir string) ([]result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	return build(ctx, options{Out: dir, Epoch: testEpoch, Services: services, Platforms: platforms, Log: io.Discard})
}

func TestMain(m *testing.M) {
	code := proctest.Main(m)
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// TestImagesReproducible: a second build of the same tree into another
// directory gives the same index digests and byte-identical archives.
func TestImagesReproducible(t *testing.T) {
	first := builtImages(t)
	again, err := buildInto(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != len(first) {
		t.Fatalf("%d results, then %d", len(first), len(again))
	}
	for i := range first {
		if first[i].Ref != again[i].Ref || first[i].Digest != again[i].Digest {
			t.Errorf("build 1 %s@%s, build 2 %s@%s", first[i].Ref, first[i].Digest, again[i].Ref, again[i].Digest)
		}
		if a, b := fileSum(t, first[i].Archive), fileSum(t, again[i].Archive); a != b {
			t.Errorf("%s: archives differ (%x, %x)", first[i].Ref, a, b)
		}
		t.Logf("%s", first[i])
	}
}

func fileSum(t *testing.T, file string) [32]byte {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

// TestImagesMatchCharts: each image is named exactly as its chart deploys
// it by default (image.repository, tag = appVersion) and the layout
// carries that name.
func TestImagesMatchCharts(t *testing.T) {
	results := builtImages(t)
	want := map[string]string{
		"registry-token": "ghcr.io/stellaops/registry-token:",
		"flex-auth":      "ghcr.io/stellaops/flex-auth:",
	}
	for i, svc := range services {
		root, err := moduleRoot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		chart, err := readChart(filepath.Join(root, "deploy", "helm", svc))
		if err != nil {
			t.Fatal(err)
		}
		r := results[i]
		if r.Ref != want[svc]+chart.AppVersion {
			t.Errorf("%s: built %s, chart deploys %s%s", svc, r.Ref, want[svc], chart.AppVersion)
		}
		p, err := layout.FromPath(r.Layout)
		if err != nil {
			t.Fatal(err)
		}
		top, err := p.ImageIndex()
		if err != nil {
			t.Fatal(err)
		}
		m, err := top.IndexManifest()
		if err != nil || len(m.Manifests) != 1 {
			t.Fatalf("%s: layout index %v, %v", svc, m, err)
		}
		if got := m.Manifests[0].Annotations[ociimage.RefNameAnnotation]; got != r.Ref || m.Manifests[0].Digest.String() != r.Digest {
			t.Errorf("%s: layout names %q %s, want %q %s", svc, got, m.Manifests[0].Digest, r.Ref, r.Digest)
		}
	}
}

// TestImageContents inspects every platform image of both services: OCI
// media types, the user, the entrypoint, the dates, exactly the expected
// files (no shell, no package manager), a static binary for the right
// CPU, the CA bundle, and the size.
func TestImageContents(t *testing.T) {
	results := builtImages(t)
	for i, svc := range services {
		idx, err := layout.ImageIndexFromPath(results[i].Layout)
		if err != nil {
			t.Fatal(err)
		}
		top, _ := idx.IndexManifest()
		multi, err := idx.ImageIndex(top.Manifests[0].Digest)
		if err != nil {
			t.Fatal(err)
		}
		m, err := multi.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if m.MediaType != types.OCIImageIndex || len(m.Manifests) != len(platforms) {
			t.Fatalf("%s: index %s with %d manifests", svc, m.MediaType, len(m.Manifests))
		}
		for j, d := range m.Manifests {
			if d.Platform == nil || d.Platform.String() != platforms[j] {
				t.Errorf("%s: manifest %d platform %v, want %s", svc, j, d.Platform, platforms[j])
				continue
			}
			t.Run(svc+"/"+d.Platform.String(), func(t *testing.T) {
				img, err := multi.Image(d.Digest)
				if err != nil {
					t.Fatal(err)
				}
				checkImage(t, svc, *d.Platform, img)
			})
		}
	}
}

func checkImage(t *testing.T, svc string, platform v1.Platform, img v1.Image) {
	mt, _ := img.MediaType()
	cfg, err := img.ConfigFile()
	if err != nil || mt != types.OCIManifestSchema1 {
		t.Fatalf("manifest %s, config %v", mt, err)
	}
	c := cfg.Config
	if c.User != "65532:65532" || len(c.Entrypoint) != 1 || c.Entrypoint[0] != "/usr/local/bin/"+svc || len(c.Cmd) != 0 {
		t.Errorf("user %q entrypoint %q cmd %q", c.User, c.Entrypoint, c.Cmd)
	}
	if cfg.OS != platform.OS || cfg.Architecture != platform.Architecture {
		t.Errorf("config platform %s/%s", cfg.OS, cfg.Architecture)
	}
	if cfg.Created.Unix() != 1700000000 || len(c.Volumes) != 0 || len(c.ExposedPorts) != 0 {
		t.Errorf("created %v volumes %v ports %v", cfg.Created, c.Volumes, c.ExposedPorts)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers, %v", len(layers), err)
	}
	size, err := layers[0].Size()
	if err != nil || size > 15<<20 {
		t.Errorf("compressed layer %d bytes (limit 15 MiB), %v", size, err)
	}
	files := readLayer(t, layers[0])
	want := []string{"etc/", "etc/group", "etc/passwd", "etc/ssl/", "etc/ssl/certs/", "etc/ssl/certs/ca-certificates.crt",
		"tmp/", "usr/", "usr/local/", "usr/local/bin/", "usr/local/bin/" + svc}
	var names []string
	for _, f := range files {
		names = append(names, f.hdr.Name)
		if f.hdr.Uid != 0 || f.hdr.Gid != 0 || f.hdr.ModTime.Unix() != 1700000000 {
			t.Errorf("%s: owner %d:%d, time %v", f.hdr.Name, f.hdr.Uid, f.hdr.Gid, f.hdr.ModTime)
		}
	}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("files:\n%q\nwant\n%q", names, want)
	}
	byName := map[string]layerFile{}
	for _, f := range files {
		byName[f.hdr.Name] = f
	}
	if m := byName["tmp/"].hdr.Mode; m != 0o1777 {
		t.Errorf("/tmp mode %o", m)
	}
	if m := byName["usr/local/bin/"+svc].hdr.Mode; m != 0o755 {
		t.Errorf("binary mode %o", m)
	}
	if !strings.Contains(string(byName["etc/passwd"].data), ":65532:65532:") || !strings.Contains(string(byName["etc/group"].data), ":65532:") {
		t.Errorf("passwd %q group %q", byName["etc/passwd"].data, byName["etc/group"].data)
	}
	checkCABundle(t, byName["etc/ssl/certs/ca-certificates.crt"].data)
	checkBinary(t, byName["usr/local/bin/"+svc].data, machines[platform.Architecture])
}

type layerFile struct {
	hdr  *tar.Header
	data []byte
}

func readLayer(t *testing.T, l v1.Layer) []layerFile {
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	var files []layerFile
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, layerFile{hdr: h, data: data})
	}
}

func checkCABundle(t *testing.T, data []byte) {
	n := 0
	for rest := data; ; n++ {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			t.Fatalf("CA bundle certificate %d: %v", n, err)
		}
	}
	if n < 100 {
		t.Errorf("CA bundle holds %d certificates", n)
	}
}

// checkBinary: an ELF executable for machine, statically linked (no
// program interpreter), stripped of its symbol table.
func checkBinary(t *testing.T, data []byte, machine elf.Machine) {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if f.Machine != machine || f.Type != elf.ET_EXEC {
		t.Errorf("ELF machine %v type %v, want %v executable", f.Machine, f.Type, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("dynamically linked (%v)", p.Type)
		}
	}
	if f.Section(".symtab") != nil {
		t.Error("not stripped: .symtab present")
	}
}

// TestSourceDateEpoch: the time comes from SOURCE_DATE_EPOCH, else the
// commit; garbage is refused with the variable's name.
func TestSourceDateEpoch(t *testing.T) {
	root, err := moduleRoot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got, err := sourceDate(context.Background(), root, "1700000000")
	if err != nil || got.Unix() != 1700000000 {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"yesterday", "-1", "1.5", "0x10"} {
		if _, err := sourceDate(context.Background(), root, bad); err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := sourceDate(context.Background(), t.TempDir(), ""); err == nil {
		t.Error("no epoch and no git commit: accepted")
	}
}
