package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestStandardAuthorityExampleLoads: the README's example for an RFC 8707 /
// RFC 9068 Authority is a valid configuration, and it accepts the resource
// URL in aud, not the development Authority's "registry".
func TestStandardAuthorityExampleLoads(t *testing.T) {
	const heading = "### Audiences of a standard Authority"
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), heading)
	_, block, ok2 := strings.Cut(section, "```yaml\n")
	example, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatalf("README has no YAML example under %q", heading)
	}
	// The example's authority section over the shipped sample configuration.
	base, err := os.ReadFile(filepath.Join(dir, "..", "..", "..", "..", "configs", "registry-token.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc, ex map[string]any
	if err := yaml.Unmarshal(base, &doc); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte(example), &ex); err != nil {
		t.Fatalf("the README's example is not YAML: %v", err)
	}
	authority := doc["authority"].(map[string]any)
	for k, v := range ex["authority"].(map[string]any) {
		authority[k] = v
	}
	merged, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadData(merged, nil)
	if err != nil {
		t.Fatalf("the README's example does not load:\n%s\n%v", example, err)
	}
	a := cfg.Authority
	if !slices.Equal(a.Audiences, []string{"https://registry-token.example.com"}) || slices.Contains(a.Audiences, "registry") {
		t.Fatalf("audiences %q, want the resource URL only", a.Audiences)
	}
	if !a.RequireAccessTokenType {
		t.Fatal("the example does not require typ at+jwt")
	}
}
