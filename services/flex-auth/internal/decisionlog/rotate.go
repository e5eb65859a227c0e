package decisionlog

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Built-in rotation. Before a write that would take the file past
// MaxSize, or once its first line is MaxAge old, the group's leader
// (holding the file, so no decision is in flight to it) ends the file
// with a signed rotate record when a signer is set, syncs it, renames it
// to <name>-<UTC time>.<ext> beside it (decisions.log becomes
// decisions-20261207T221503.123456789Z.log), syncs the directory and
// opens a new file at the configured path. The chain goes on in the new
// file. A rotation that fails (the rename is refused) is reported and the
// log keeps writing to the file it has: no decision waits on it or is
// lost by it. Rotated names sort in time order, before the live file.

// rotatedTimeFormat is the time in a rotated file's name.
const rotatedTimeFormat = "20060102T150405.000000000Z"

// rotatedName returns the name path is rotated to at t.
func rotatedName(path string, t time.Time) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-" + t.UTC().Format(rotatedTimeFormat) + ext
}

// Rotated lists the files rotated away from path, oldest first.
func Rotated(path string) ([]string, error) {
	ext := filepath.Ext(path)
	prefix := filepath.Base(strings.TrimSuffix(path, ext)) + "-"
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		stamp, ok := strings.CutPrefix(name, prefix)
		if !ok || !strings.HasSuffix(stamp, ext) || e.IsDir() {
			continue
		}
		if _, err := time.Parse(rotatedTimeFormat, strings.TrimSuffix(stamp, ext)); err != nil {
			continue
		}
		out = append(out, filepath.Join(filepath.Dir(path), name))
	}
	slices.Sort(out)
	return out, nil
}

// rotateIfDue rotates the file when writing n more bytes would take it
// past MaxSize or its first line is MaxAge old (under fileMu).
func (l *Log) rotateIfDue(n int) {
	if l.f == nil || l.size == 0 {
		return
	}
	bySize := l.cfg.MaxSize > 0 && l.size+int64(n) > l.cfg.MaxSize
	byAge := l.cfg.MaxAge > 0 && l.now().Sub(l.opened) >= l.cfg.MaxAge
	if bySize || byAge {
		if err := l.rotate(); err != nil {
			_ = l.report(err)
		}
	}
}

// rotate ends the current file, renames it and opens a new one.
func (l *Log) rotate() error {
	if l.cfg.Signer != nil {
		if err := l.writeRecord(RecordRotate); err != nil {
			return err
		}
	} else if err := l.sync(); err != nil {
		return err
	}
	to := rotatedName(l.cfg.Path, l.now())
	if _, err := os.Lstat(to); err == nil {
		return fmt.Errorf("rotate decision log: %s exists", to)
	}
	if err := os.Rename(l.cfg.Path, to); err != nil {
		return fmt.Errorf("rotate decision log: %w", err)
	}
	syncDir(filepath.Dir(l.cfg.Path))
	if err := l.reopenFile(); err != nil {
		return err
	}
	if l.cfg.OnRotate != nil {
		l.cfg.OnRotate(to)
	}
	return l.prune()
}

// prune removes the oldest rotated files beyond MaxFiles.
func (l *Log) prune() error {
	if l.cfg.MaxFiles <= 0 {
		return nil
	}
	files, err := Rotated(l.cfg.Path)
	if err != nil {
		return fmt.Errorf("list rotated decision logs: %w", err)
	}
	for len(files) > l.cfg.MaxFiles {
		if err := os.Remove(files[0]); err != nil {
			return fmt.Errorf("remove old decision log: %w", err)
		}
		files = files[1:]
	}
	return nil
}

// predecessor is the chain at the end of the file before path when path
// is new: the newest rotated file, else logrotate's path.1. A log without
// either starts a new chain.
func predecessor(path string) chain {
	candidates := []string{path + ".1"}
	if files, err := Rotated(path); err == nil && len(files) > 0 {
		candidates = []string{files[len(files)-1], path + ".1"}
	}
	for _, c := range candidates {
		f, err := os.Open(c) //nolint:gosec // G304: a file beside the configured log
		if err != nil {
			continue
		}
		fi, err := f.Stat()
		var last []byte
		if err == nil {
			last, err = tailLine(f, fi.Size())
		}
		_ = f.Close()
		if err == nil && last != nil {
			return chainAt(last)
		}
	}
	return chain{}
}

// syncDir makes a rename or a new file in dir durable.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil { //nolint:gosec // G304: the log's own directory
		_ = d.Sync()
		_ = d.Close()
	}
}
