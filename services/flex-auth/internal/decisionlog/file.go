package decisionlog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// File is what the log writes to; *os.File satisfies it.
type File interface {
	io.Writer
	io.ReaderAt
	Sync() error
	Close() error
	Stat() (os.FileInfo, error)
	Truncate(size int64) error
}

// OpenFunc opens the log file for appending.
type OpenFunc func(path string) (File, error)

// OpenAppend creates the parent directory and the file if needed and opens
// it for appending; the directory is synced so a new file survives a
// crash.
func OpenAppend(path string) (File, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	// Group-readable, for a log shipper or the stdout sidecar in the pod's group.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o640) //nolint:gosec // G302: see above
	if err != nil {
		return nil, err
	}
	syncDir(dir)
	return f, nil
}

// datasync flushes f's data and the metadata needed to read it back
// (fdatasync(2)); Sync for other File implementations. The
// descriptor is used under the file's own reference count, so a
// concurrent Close cannot hand it to another file.
func datasync(f File) error {
	sc, ok := f.(*os.File)
	if !ok {
		return f.Sync()
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = syscall.Fdatasync(int(fd))
			if serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return serr
}

// ErrRemoved is returned when the open log file has been unlinked: lines
// written to it would be lost, so the batch fails and the file is created
// again for the next one.
var ErrRemoved = errors.New("decision log file was removed")

// removed reports whether the file described by fi has no directory
// entry left.
func removed(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Nlink == 0
}

// repairTail makes f end in a newline or be empty: a final line without
// its newline (a write torn by a crash or a full disk) was never
// acknowledged, so it is cut off. It returns the number of bytes removed.
func repairTail(f File) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	if size == 0 {
		return 0, nil
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], size-1); err != nil {
		return 0, fmt.Errorf("read tail: %w", err)
	}
	if last[0] == '\n' {
		return 0, nil
	}
	keep, err := lastNewline(f, size)
	if err != nil {
		return 0, err
	}
	if err := f.Truncate(keep); err != nil {
		return 0, fmt.Errorf("truncate torn line: %w", err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("sync after repair: %w", err)
	}
	return size - keep, nil
}

// lastNewline returns the offset just after the last '\n' before size,
// or 0 when there is none.
func lastNewline(f File, size int64) (int64, error) {
	buf := make([]byte, 32<<10)
	end := size
	for end > 0 {
		start := max(end-int64(len(buf)), 0)
		chunk := buf[:end-start]
		if _, err := f.ReadAt(chunk, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("read tail: %w", err)
		}
		for i := len(chunk) - 1; i >= 0; i-- {
			if chunk[i] == '\n' {
				return start + int64(i) + 1, nil
			}
		}
		end = start
	}
	return 0, nil
}
