package deploy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/authgate/deploy/internal/render"
)

// TestSchemaRejectsBadValues installs every file of testdata/invalid/<chart>
// with helm template and helm lint: each must fail, with the message named
// on the file's "# want:" line. Files marked "# template-only:" are
// rejected by a template `fail`, which helm lint reports only as INFO.
func TestSchemaRejectsBadValues(t *testing.T) {
	helm := helmBin(t)
	for _, chart := range []string{"registry-token", "flex-auth"} {
		files, err := filepath.Glob(filepath.Join("testdata", "invalid", chart, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) < 10 {
			t.Fatalf("%s: only %d invalid values files", chart, len(files))
		}
		for _, f := range files {
			t.Run(chart+"/"+strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
				want := wantLine(t, f)
				r := defaultRelease(chart)
				r.Values = []string{f}
				out, err := render.Template(helm, r)
				if err == nil {
					t.Fatalf("helm template accepted %s:\n%.400s", f, out)
				}
				if !strings.Contains(err.Error(), want) {
					t.Errorf("helm template failed without %q:\n%v", want, err)
				}
				if _, err := render.Lint(helm, r); err == nil && !templateOnly(t, f) {
					t.Errorf("helm lint accepted %s", f)
				}
			})
		}
	}
}

func wantLine(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	want, ok := strings.CutPrefix(first, "# want: ")
	if !ok || want == "" {
		t.Fatalf("%s: first line must be \"# want: <expected error text>\"", file)
	}
	return want
}

// TestFlexAuthOnlyInItsNamespace: the Service DNS name the callers use
// holds only in namespace flex-auth, so another namespace fails the render
// unless requireNamespace is cleared.
func TestFlexAuthOnlyInItsNamespace(t *testing.T) {
	helm := helmBin(t)
	r := defaultRelease("flex-auth")
	r.Namespace = "default"
	if _, err := render.Template(helm, r); err == nil || !strings.Contains(err.Error(), `must be installed in namespace "flex-auth"`) {
		t.Errorf("render in namespace default: %v", err)
	}
	r.Set = []string{"requireNamespace="}
	if _, err := render.Template(helm, r); err != nil {
		t.Errorf("render with requireNamespace cleared: %v", err)
	}
}

func templateOnly(t *testing.T, file string) bool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(b), "\n# template-only:")
}
