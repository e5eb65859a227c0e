package plans

import (
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"
)

// loadYAML decodes testdata/<name> into v, failing on unknown fields.
func loadYAML(t testing.TB, name string, v any) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
}

// equalResources compares two resource lists, treating nil and empty alike.
func equalResources(a, b []Resource) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || a[i].Name != b[i].Name || len(a[i].Actions) != len(b[i].Actions) {
			return false
		}
		for j := range a[i].Actions {
			if a[i].Actions[j] != b[i].Actions[j] {
				return false
			}
		}
	}
	return true
}
