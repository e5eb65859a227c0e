// Package filewatch calls back when configuration files change. It
// watches the files' directories rather than the files, so that editors
// that replace a file and Kubernetes ConfigMap and Secret volumes (which
// swap a ..data symlink to a new timestamped directory) are both seen.
// Bursts of events are debounced into one callback.
package filewatch

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Options configure a Watcher.
type Options struct {
	// Debounce is the quiet time after the last event before OnChange.
	Debounce time.Duration
	// OnChange is called (from the watcher's goroutine) after a change.
	OnChange func()
	// OnError receives the errors of the underlying watcher.
	OnError func(error)
}

// Watcher watches a set of files. Create with New, set the files with
// Watch (again whenever the set changes), run with Run.
type Watcher struct {
	o  Options
	fs *fsnotify.Watcher

	mu    sync.Mutex
	files map[string]bool // absolute paths
	dirs  map[string]bool
}

// New starts the underlying watcher; Run must follow (it closes it).
func New(o Options) (*Watcher, error) {
	fs, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	return &Watcher{o: o, fs: fs, files: map[string]bool{}, dirs: map[string]bool{}}, nil
}

// Watch makes files (empty names are skipped) the watched set: the
// directories of new files are added, those no file needs any more are
// dropped.
func (w *Watcher) Watch(files ...string) error {
	nextFiles, nextDirs := map[string]bool{}, map[string]bool{}
	for _, f := range files {
		if f == "" {
			continue
		}
		abs, err := filepath.Abs(f)
		if err != nil {
			return fmt.Errorf("watch %s: %w", f, err)
		}
		nextFiles[abs] = true
		nextDirs[filepath.Dir(abs)] = true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for d := range nextDirs {
		if !w.dirs[d] {
			if err := w.fs.Add(d); err != nil {
				return fmt.Errorf("watch %s: %w", d, err)
			}
		}
	}
	for d := range w.dirs {
		if !nextDirs[d] {
			_ = w.fs.Remove(d)
		}
	}
	w.files, w.dirs = nextFiles, nextDirs
	return nil
}

// relevant: one of the files, or a hidden ..data / ..<timestamp> entry of
// a watched directory, which a ConfigMap or Secret volume swaps.
func (w *Watcher) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	abs := filepath.Clean(ev.Name)
	return w.files[abs] || (strings.HasPrefix(filepath.Base(abs), "..") && w.dirs[filepath.Dir(abs)])
}

// Close releases a watcher that will not Run.
func (w *Watcher) Close() error { return w.fs.Close() }

// Run delivers changes until ctx is done, then closes the watcher.
func (w *Watcher) Run(ctx context.Context) {
	defer w.fs.Close()
	timer := time.NewTimer(w.o.Debounce)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			if w.relevant(ev) {
				timer.Reset(w.o.Debounce)
			}
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			if w.o.OnError != nil {
				w.o.OnError(err)
			}
		case <-timer.C:
			if w.o.OnChange != nil {
				w.o.OnChange()
			}
		}
	}
}
