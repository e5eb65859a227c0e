package filetest

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReplaceAndCopy(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	Replace(t, a, []byte("one"))
	Replace(t, b, []byte("two"))
	Copy(t, a, b)
	got, err := os.ReadFile(b)
	if err != nil || string(got) != "one" {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := os.Stat(b + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left behind: %v", err)
	}
}
