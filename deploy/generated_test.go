package deploy_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stellaops/authgate/deploy/internal/render"
)

// TestGeneratedFilesUpToDate fails when a chart's copy of a fixture or of
// the alert rules, or a plain manifest, differs from what
// `go run ./deploy/cmd/gen` would write.
func TestGeneratedFilesUpToDate(t *testing.T) {
	files, err := render.Generate(helmBin(t), "..")
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range files {
		got, err := os.ReadFile(filepath.Join("..", path))
		if err != nil {
			t.Errorf("%s: %v (run go run ./deploy/cmd/gen)", path, err)
			continue
		}
		if string(got) != string(want) {
			t.Errorf("%s is stale: run go run ./deploy/cmd/gen", path)
		}
	}
}

// TestManifestsDecode checks the plain manifests like the chart renders:
// every object strictly decoded, in a namespace, hardened.
func TestManifestsDecode(t *testing.T) {
	for path := range render.Manifests {
		objs, err := render.Decode([]byte(readFile(t, filepath.Join("..", path))))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, o := range objs {
			if o.Namespace == "" {
				t.Errorf("%s: %s %s has no namespace", path, o.Kind, o.Name)
			}
		}
		t.Run(filepath.Base(path), func(t *testing.T) {
			dep := workload(t, objs)
			checkHardened(t, dep)
		})
	}
}
