package config

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRequiredWithIssuerIsDocumented: every key whose absence stops
// start-up once auth.issuer is set is marked "required with `auth.issuer`"
// in its README row.
func TestRequiredWithIssuerIsDocumented(t *testing.T) {
	a := Defaults().Auth
	a.Issuer = "https://authority.example.com"
	a.MetadataURL, a.Audiences, a.PublicURL = "", nil, ""
	required := regexp.MustCompile(`^(auth\.[A-Za-z]+)\b.* is required when auth\.issuer is set`)
	var keys []string
	for _, err := range a.validate(TLSConfig{}) {
		if m := required.FindStringSubmatch(err.Error()); m != nil {
			keys = append(keys, m[1])
		}
	}
	if len(keys) < 3 {
		t.Fatalf("found %v required keys, want auth.metadataUrl, auth.audiences and auth.publicUrl at least", keys)
	}
	rows := readmeRows(t)
	for _, k := range keys {
		row, ok := rows[k]
		switch {
		case !ok:
			t.Errorf("%s has no README row", k)
		case !strings.Contains(row, "required with `auth.issuer`"):
			t.Errorf("README row of %s does not say it is required with `auth.issuer`:\n%s", k, row)
		}
	}
}

// readmeRows maps each documented key of the configuration reference to
// its table row.
func readmeRows(t *testing.T) map[string]string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(string(bytes.TrimSpace(out))), "services", "flex-auth", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || strings.TrimSpace(cells[0]) != "" {
			continue
		}
		if cell := strings.TrimSpace(cells[1]); len(cell) > 2 && cell[0] == '`' && cell[len(cell)-1] == '`' {
			rows[cell[1:len(cell)-1]] = line
		}
	}
	return rows
}
