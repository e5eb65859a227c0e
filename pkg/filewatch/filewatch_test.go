package filewatch

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// configMapVersion lays out a new version of a ConfigMap volume the way
// the kubelet does (name -> ..data/name, ..data -> ..<timestamp>) and
// swaps ..data atomically.
func configMapVersion(t *testing.T, dir, version, name, content string) {
	t.Helper()
	d := filepath.Join(dir, version)
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(version, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

func waitCount(t *testing.T, n *atomic.Int64, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%d changes seen, want %d", n.Load(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConfigMapSwapsAndPlainWrites(t *testing.T) {
	cm, plain, other := t.TempDir(), t.TempDir(), t.TempDir()
	configMapVersion(t, cm, "..2026_01_01_1", "config.yaml", "a: 1\n")
	if err := os.Symlink(filepath.Join("..data", "config.yaml"), filepath.Join(cm, "config.yaml")); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(plain, "key.pem")
	if err := os.WriteFile(key, []byte("k1"), 0o600); err != nil {
		t.Fatal(err)
	}
	var changes atomic.Int64
	w, err := New(Options{Debounce: 20 * time.Millisecond, OnChange: func() { changes.Add(1) }, OnError: func(err error) { t.Error(err) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Watch(filepath.Join(cm, "config.yaml"), key, ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)

	configMapVersion(t, cm, "..2026_01_01_2", "config.yaml", "a: 2\n")
	waitCount(t, &changes, 1)
	if err := os.WriteFile(key, []byte("k2"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitCount(t, &changes, 2)

	// A directory added to the set is watched.
	if err := w.Watch(filepath.Join(cm, "config.yaml"), filepath.Join(other, "key2.pem")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "key2.pem"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitCount(t, &changes, 3)
}

// Which events count: the files, the ..data entries of their directories;
// not other files, not chmod, not directories dropped from the set.
func TestRelevant(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	w, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.fs.Close()
	if err := w.Watch(filepath.Join(dir, "a.yaml"), filepath.Join(other, "k.pem")); err != nil {
		t.Fatal(err)
	}
	if err := w.Watch(filepath.Join(dir, "a.yaml")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		op   fsnotify.Op
		want bool
	}{
		{filepath.Join(dir, "a.yaml"), fsnotify.Write, true},
		{filepath.Join(dir, "a.yaml"), fsnotify.Create, true},
		{filepath.Join(dir, "..data"), fsnotify.Create, true},
		{filepath.Join(dir, "..2026_01_01_2"), fsnotify.Create, true},
		{filepath.Join(dir, "a.yaml"), fsnotify.Chmod, false},
		{filepath.Join(dir, "b.yaml"), fsnotify.Write, false},
		{filepath.Join(other, "k.pem"), fsnotify.Write, false},
		{filepath.Join(other, "..data"), fsnotify.Create, false},
	} {
		if got := w.relevant(fsnotify.Event{Name: tc.name, Op: tc.op}); got != tc.want {
			t.Errorf("%s %s: relevant %v, want %v", tc.op, tc.name, got, tc.want)
		}
	}
}
