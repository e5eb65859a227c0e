package devstack

import (
	"os"
	"path/filepath"
	"testing"
)

func TestEnsureSigningKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "run", "signing.pem")
	created, err := EnsureSigningKey(file)
	if err != nil || !created {
		t.Fatalf("%v %v", created, err)
	}
	first, _ := os.ReadFile(file)
	if info, _ := os.Stat(file); info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", info.Mode().Perm())
	}
	if created, err = EnsureSigningKey(file); err != nil || created {
		t.Fatalf("second call: %v %v", created, err)
	}
	if second, _ := os.ReadFile(file); string(second) != string(first) {
		t.Error("an existing key was replaced")
	}
}
