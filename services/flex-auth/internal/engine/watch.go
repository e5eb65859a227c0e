package engine

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/stellaops/authgate/pkg/filewatch"
)

// Watch reloads the engine when the registry, a policy package (each *.md
// file a policy directory held when Watch was called; SIGHUP picks up new
// files) or the entity data changes, until
// ctx is done (pkg/filewatch: parent directories are watched, so editors
// that replace files and Kubernetes ConfigMap ..data symlink swaps are
// both seen; bursts are debounced into one reload). Reload failures are
// recorded by Reload itself (status, OnReload); errors of the watcher are
// passed to onError.
func (e *Engine) Watch(ctx context.Context, debounce time.Duration, onError func(error)) error {
	w, err := filewatch.New(filewatch.Options{
		Debounce: debounce,
		OnChange: func() { _ = e.Reload() }, // recorded in Status and reported by OnReload
		OnError:  onError,
	})
	if err != nil {
		return err
	}
	if err := w.Watch(e.cfg.watchFiles()...); err != nil {
		_ = w.Close()
		return err
	}
	go w.Run(ctx)
	return nil
}

// watchFiles lists the files to watch, policy directories expanded into
// their packages.
func (c *Config) watchFiles() []string {
	var out []string
	for _, f := range c.files() {
		if st, err := os.Stat(f); err == nil && st.IsDir() {
			md, _ := filepath.Glob(filepath.Join(f, "*.md"))
			out = append(out, md...)
			continue
		}
		out = append(out, f)
	}
	return out
}
