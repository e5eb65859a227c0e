package config

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// readmeFile lets a draft be checked instead of the service's README.md:
// go test ./services/flex-auth/internal/config -run ConfigReference -args -readme FILE
var readmeFile = flag.String("readme", "", "README to check (default: services/flex-auth/README.md)")

// TestConfigReference compares the keys documented between the
// config-reference:flex-auth markers of services/flex-auth/README.md (first
// table cell, in backquotes) with the koanf keys of Config: none may be
// missing or extra.
func TestConfigReference(t *testing.T) {
	doc := documentedKeys(t, "<!-- config-reference:flex-auth -->", "<!-- /config-reference:flex-auth -->")
	actual := map[string]bool{}
	var walk func(reflect.Type, string)
	walk = func(typ reflect.Type, path string) {
		for i := range typ.NumField() {
			tag := typ.Field(i).Tag.Get("koanf")
			if tag == "" {
				continue
			}
			key := strings.TrimPrefix(path+"."+tag, ".")
			if ft := typ.Field(i).Type; ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Duration]() {
				walk(ft, key)
			} else {
				actual[key] = true
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	if !actual["auth.dpopMaxAge"] || !actual["decisionLog.file"] {
		t.Fatalf("the key walk is broken: %v", actual)
	}
	var extra, missing []string
	for k := range doc {
		if !actual[k] {
			extra = append(extra, k)
		}
	}
	for k := range actual {
		if !doc[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(extra)
	sort.Strings(missing)
	if len(extra) > 0 {
		t.Errorf("README documents keys flex-auth does not have: %v", extra)
	}
	if len(missing) > 0 {
		t.Errorf("flex-auth keys missing from the README: %v", missing)
	}
}

func documentedKeys(t *testing.T, begin, end string) map[string]bool {
	t.Helper()
	name := *readmeFile
	if name == "" {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			t.Fatalf("go env GOMOD: %v", err)
		}
		name = filepath.Join(filepath.Dir(string(bytes.TrimSpace(out))), "services", "flex-auth", "README.md")
	}
	raw, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(raw), begin)
	section, _, closed := strings.Cut(rest, end)
	if !ok || !closed {
		t.Fatalf("%s: no section between %s and %s", name, begin, end)
	}
	keys := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || strings.TrimSpace(cells[0]) != "" {
			continue
		}
		cell := strings.TrimSpace(cells[1])
		if len(cell) > 2 && cell[0] == '`' && cell[len(cell)-1] == '`' {
			keys[cell[1:len(cell)-1]] = true
		}
	}
	if len(keys) == 0 {
		t.Fatalf("%s: no documented keys between the markers", name)
	}
	return keys
}
