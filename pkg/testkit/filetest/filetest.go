// Package filetest replaces files the way configuration management does
// (a complete new file renamed over the old one), for tests of services
// that watch and reload their files.
package filetest

import (
	"os"
	"testing"
)

// Replace writes b to path through a temporary file and a rename, so a
// reader sees the old file or the new one, never a partial write.
func Replace(t testing.TB, path string, b []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil { //nolint:gosec // G703: a test names its own files
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// Copy replaces to with the content of from, like Replace.
func Copy(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	Replace(t, to, b)
}
