package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stellaops/authgate/deploy/internal/ociimage"
)

// Image is one image built for the cluster: Ref as the pods name it,
// from an empty base.
type Image struct {
	Ref string
	// Name is the entrypoint's name (/usr/local/bin/<Name>).
	Name   string
	Binary []byte
	// Files are added beside it (shared libraries, configuration).
	Files []ociimage.File
}

// imageTime dates the cluster's images; they never leave the machine.
var imageTime = time.Unix(0, 0).UTC()

// Index is img as an OCI image index for this machine's platform.
func (img Image) Index() (v1.ImageIndex, error) {
	return ociimage.Build(ociimage.Spec{Service: img.Name, Created: imageTime,
		Binaries: map[string][]byte{"linux/" + runtime.GOARCH: img.Binary}, Files: img.Files})
}

// WriteImage writes img as an OCI archive into dir and returns its path.
func WriteImage(dir string, img Image) (string, error) {
	idx, err := img.Index()
	if err != nil {
		return "", err
	}
	base := strings.NewReplacer("/", "_", ":", "_").Replace(img.Ref)
	layout := filepath.Join(dir, base)
	if err := os.RemoveAll(layout); err != nil {
		return "", err
	}
	if err := ociimage.WriteLayout(layout, idx, img.Ref); err != nil {
		return "", err
	}
	archive := layout + ".oci.tar"
	return archive, ociimage.WriteArchive(layout, archive, imageTime)
}

// GoBinary builds the main package pkg ("./deploy/cmd/k8s-pause") of the
// module in root as a static binary for this machine.
func GoBinary(ctx context.Context, root, pkg string) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "cluster-bin-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	out := filepath.Join(tmp, "bin")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %s: %v\n%s", pkg, err, msg)
	}
	return os.ReadFile(out)
}

// ModuleRoot is the repository root (go env GOMOD).
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("run from the repository (go env GOMOD: %q, %v)", gomod, err)
	}
	return filepath.Dir(gomod), nil
}

// buildNodeImages builds the sandbox (pause) and CoreDNS images.
func (c *Cluster) buildNodeImages(ctx context.Context) ([]string, error) {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	pause, err := GoBinary(ctx, root, "./deploy/cmd/k8s-pause")
	if err != nil {
		return nil, err
	}
	coredns, err := os.ReadFile(c.tools.CoreDNS)
	if err != nil {
		return nil, err
	}
	var archives []string
	for _, img := range []Image{
		{Ref: PauseImage, Name: "pause", Binary: pause},
		{Ref: CoreDNSImage, Name: "coredns", Binary: coredns},
	} {
		a, err := WriteImage(c.path("images"), img)
		if err != nil {
			return nil, err
		}
		archives = append(archives, a)
	}
	return archives, nil
}

// HostBinaryImage packs a dynamically linked binary of this machine
// (curl from Debian) with the shared libraries ldd lists, at their
// paths, so the image runs the same binary the host does.
func HostBinaryImage(ctx context.Context, ref, bin string) (Image, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return Image{}, err
	}
	out, err := exec.CommandContext(ctx, "ldd", bin).Output()
	if err != nil {
		return Image{}, fmt.Errorf("ldd %s: %w", bin, err)
	}
	img := Image{Ref: ref, Name: filepath.Base(bin), Binary: data}
	for _, line := range strings.Split(string(out), "\n") {
		// "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)" or
		// "/lib64/ld-linux-x86-64.so.2 (0x...)"
		f := strings.Fields(line)
		var lib string
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			lib = f[2]
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			lib = f[0]
		default:
			continue
		}
		b, err := os.ReadFile(lib) // follows the symlink to the library
		if err != nil {
			return Image{}, err
		}
		img.Files = append(img.Files, ociimage.File{Name: strings.TrimPrefix(lib, "/"), Mode: 0o755, Data: b})
	}
	return img, nil
}
