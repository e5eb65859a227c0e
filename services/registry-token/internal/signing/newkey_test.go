package signing

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteNewKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "signing.pem")
	if err := WriteNewKey(file); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, want 0600", st.Mode().Perm())
	}
	k, err := Load(Options{File: file})
	if err != nil {
		t.Fatalf("the written key does not load: %v", err)
	}
	if k.Algorithm() != "ES256" {
		t.Fatalf("algorithm = %s, want ES256", k.Algorithm())
	}
	if err := WriteNewKey(file); err == nil {
		t.Fatal("an existing key file was overwritten")
	}
}
