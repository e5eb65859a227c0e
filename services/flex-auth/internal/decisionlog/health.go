package decisionlog

import (
	"fmt"
	"path/filepath"
	"syscall"
	"time"
)

// DefaultMinFreeBytes is the default Config.MinFreeBytes: 64 MiB.
const DefaultMinFreeBytes = 64 << 20

// failureHold is how long Health reports a failed write: a pod that is
// not ready gets no decisions to show that writing works again, so the
// failure is forgotten after a while and the next decision tries anew.
const failureHold = 10 * time.Second

// freeSpaceTTL is how long a free-space reading is reused.
const freeSpaceTTL = time.Second

// ErrLowDisk is reported by Health when the log's file system has less
// than MinFreeBytes free.
type ErrLowDisk struct {
	Free, Min int64
	Dir       string
}

func (e *ErrLowDisk) Error() string {
	return fmt.Sprintf("decision log: %d bytes free in %s, below decisionLog.minFreeBytes (%d)", e.Free, e.Dir, e.Min)
}

// FreeBytes returns the bytes available to the service on the log's file
// system (statfs f_bavail), read at most once a second; -1 when unknown.
func (l *Log) FreeBytes() int64 {
	now := l.now()
	l.healthMu.Lock()
	defer l.healthMu.Unlock()
	if now.Sub(l.freeAt) < freeSpaceTTL && !l.freeAt.IsZero() {
		return l.free
	}
	var st syscall.Statfs_t
	l.free = -1
	if err := syscall.Statfs(filepath.Dir(l.cfg.Path), &st); err == nil {
		l.free = int64(st.Bavail) * st.Bsize //nolint:gosec // G115: block counts fit in int64
	}
	l.freeAt = now
	return l.free
}

// Health returns why the log cannot be relied on to take the next
// decisions, nil when it can: a write or sync failed in the last few
// seconds, or the file system has less than MinFreeBytes free (so
// /readyz turns 503 before the disk is full and decisions fail).
func (l *Log) Health() error {
	if at := l.failedAt.Load(); at != 0 && l.now().Sub(time.Unix(0, at)) < failureHold {
		if err := l.lastErr.Load(); err != nil {
			return *err
		}
	}
	if l.cfg.MinFreeBytes > 0 {
		if free := l.FreeBytes(); free >= 0 && free < l.cfg.MinFreeBytes {
			return &ErrLowDisk{Free: free, Min: l.cfg.MinFreeBytes, Dir: filepath.Dir(l.cfg.Path)}
		}
	}
	return nil
}
