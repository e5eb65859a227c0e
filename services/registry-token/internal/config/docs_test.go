package config

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// readmeFlag lets the reference be checked in another file (a draft):
// go test ./services/registry-token/internal/config -run ConfigReference -args -readme /path/README.md
var readmeFlag = flag.String("readme", "", "README to check (default: services/registry-token/README.md)")

// Markers around the configuration reference in services/registry-token/README.md.
const (
	docBegin = "<!-- config-reference:registry-token -->"
	docEnd   = "<!-- /config-reference:registry-token -->"
)

// TestConfigReference fails when the README's configuration reference
// documents a key that Config does not have, or leaves one out. Keys are
// the first cell of each table row, in backquotes: `server.tls.certFile`;
// entries of the plans map are written `plans.<plan>[].repository`.
func TestConfigReference(t *testing.T) {
	section := readmeSection(t, docBegin, docEnd)
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\|\\s*`([^`]+)`\\s*\\|").FindAllStringSubmatch(section, -1) {
		if documented[m[1]] {
			t.Errorf("README documents %s twice", m[1])
		}
		documented[m[1]] = true
	}
	if len(documented) == 0 {
		t.Fatalf("no key rows between %s and %s", docBegin, docEnd)
	}
	keys := configKeys(reflect.TypeOf(Config{}), "")
	for k := range documented {
		if !slices.Contains(keys, k) {
			t.Errorf("README documents %s, which is not a registry-token configuration key", k)
		}
	}
	for _, k := range keys {
		if !documented[k] {
			t.Errorf("configuration key %s is not documented in the README", k)
		}
	}
}

// TestConfigKeysWalk pins the walk on a few known keys, so a broken walk
// cannot make the reference test pass vacuously.
func TestConfigKeysWalk(t *testing.T) {
	keys := configKeys(reflect.TypeOf(Config{}), "")
	for _, want := range []string{"server.tls.clientCaFile", "authority.dpop.maxAge", "plans.<plan>[].actions", "revokedLicenses", "policy.failClosed", "signing.keys[].retiredAt"} {
		if !slices.Contains(keys, want) {
			t.Errorf("walk misses %s: %v", want, keys)
		}
	}
}

// configKeys lists the leaf keys of t by koanf tag, in field order.
func configKeys(t reflect.Type, prefix string) []string {
	join := func(name string) string {
		if prefix == "" {
			return name
		}
		return prefix + "." + name
	}
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("koanf")
		if name == "" || name == "-" {
			continue
		}
		ft := f.Type
		switch {
		case ft.Kind() == reflect.Struct && ft != reflect.TypeOf(time.Time{}):
			out = append(out, configKeys(ft, join(name))...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, configKeys(ft.Elem(), join(name)+"[]")...)
		case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Slice && ft.Elem().Elem().Kind() == reflect.Struct:
			out = append(out, configKeys(ft.Elem().Elem(), join(name)+".<plan>[]")...)
		default:
			out = append(out, join(name))
		}
	}
	return out
}

// readmeSection returns the text between begin and end in the service's README.
func readmeSection(t *testing.T, begin, end string) string {
	t.Helper()
	file := *readmeFlag
	if file == "" {
		dir, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				t.Fatal("go.mod not found above the test directory")
			}
			dir = parent
		}
		file = filepath.Join(dir, "services", "registry-token", "README.md")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatalf("%s has no configuration reference between %s and %s", file, begin, end)
	}
	return text[i+len(begin) : j]
}
