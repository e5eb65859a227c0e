package decisionlog

import (
	"os"
	"syscall"
)

// fallocKeepSize is FALLOC_FL_KEEP_SIZE: allocate blocks past the end of
// the file without changing its size.
const fallocKeepSize = 0x1

// preallocate reserves disk blocks for [off, off+n) beyond the end of f
// without changing its size, so readers still see only whole lines. An
// append into reserved blocks does not allocate at write-back, which
// makes the fdatasync after it cheaper. Files that are not *os.File, and
// file systems without fallocate, are left alone.
func preallocate(f File, off, n int64) error {
	sc, ok := f.(*os.File)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = syscall.Fallocate(int(fd), fallocKeepSize, off, n)
			if ferr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return ferr
}
