package devstack_test

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/stellaops/authgate/services/registry-token/internal/devstack"
)

// TestProgramImage: one layer holding the program at /usr/local/bin,
// mode 0755, as the entrypoint, the arguments as the command, for this
// machine's platform and a non-root user.
func TestProgramImage(t *testing.T) {
	file := filepath.Join(t.TempDir(), "hello")
	if err := os.WriteFile(file, []byte("#!program"), 0o600); err != nil {
		t.Fatal(err)
	}
	img, err := devstack.ProgramImage(file, []string{"help"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Config.Entrypoint, []string{"/usr/local/bin/hello"}) || !slices.Equal(cfg.Config.Cmd, []string{"help"}) ||
		cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH || cfg.Config.User != "65532:65532" {
		t.Errorf("config: entrypoint %q cmd %q platform %s/%s user %q", cfg.Config.Entrypoint, cfg.Config.Cmd, cfg.OS, cfg.Architecture, cfg.Config.User)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "usr/local/bin/hello" {
			found = true
			data, _ := io.ReadAll(tr)
			if h.Mode != 0o755 || string(data) != "#!program" {
				t.Errorf("program: mode %o, content %q", h.Mode, data)
			}
		}
	}
	if !found {
		t.Error("the layer does not hold usr/local/bin/hello")
	}
	if _, err := devstack.ProgramImage(filepath.Join(t.TempDir(), "missing"), nil); err == nil {
		t.Error("a missing program made an image")
	}
}
