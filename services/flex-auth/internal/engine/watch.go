package engine

import (
	"context"
	"time"

	"github.com/stellaops/authgate/pkg/filewatch"
)

// Watch reloads the engine when the registry or policy file changes, until
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
	if err := w.Watch(e.cfg.RegistryFile, e.cfg.PolicyFile); err != nil {
		_ = w.Close()
		return err
	}
	go w.Run(ctx)
	return nil
}
