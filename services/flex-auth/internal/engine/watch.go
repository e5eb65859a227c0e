package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch reloads the engine when the registry or policy file changes, until
// ctx is done. It watches the parent directories, not the files, so that
// editors that replace files and Kubernetes ConfigMap volumes (which swap
// the ..data symlink to a new timestamped directory) are both seen. Bursts
// of events are debounced into one reload. Reload failures are recorded by
// Reload itself (status, OnReload); errors of the watcher are passed to
// onError.
func (e *Engine) Watch(ctx context.Context, debounce time.Duration, onError func(error)) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	names := map[string]bool{}
	dirs := map[string]bool{}
	for _, f := range []string{e.cfg.RegistryFile, e.cfg.PolicyFile} {
		abs, err := filepath.Abs(f)
		if err != nil {
			_ = w.Close()
			return fmt.Errorf("watch %s: %w", f, err)
		}
		names[filepath.Base(abs)] = true
		dirs[filepath.Dir(abs)] = true
	}
	for d := range dirs {
		if err := w.Add(d); err != nil {
			_ = w.Close()
			return fmt.Errorf("watch %s: %w", d, err)
		}
	}
	go e.watchLoop(ctx, w, names, debounce, onError)
	return nil
}

// relevant: the files themselves, or the hidden ..data / ..<timestamp>
// entries a ConfigMap volume swaps.
func relevant(names map[string]bool, ev fsnotify.Event) bool {
	base := filepath.Base(ev.Name)
	return names[base] || strings.HasPrefix(base, "..")
}

func (e *Engine) watchLoop(ctx context.Context, w *fsnotify.Watcher, names map[string]bool, debounce time.Duration, onError func(error)) {
	defer w.Close()
	timer := time.NewTimer(debounce)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if ev.Op != fsnotify.Chmod && relevant(names, ev) {
				timer.Reset(debounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			if onError != nil {
				onError(err)
			}
		case <-timer.C:
			_ = e.Reload() // recorded in Status and reported by OnReload
		}
	}
}
