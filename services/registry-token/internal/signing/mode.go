package signing

import (
	"io/fs"
	"os"
	"syscall"
)

// KeyModeAllowed reports whether a key file with mode perm, owned by
// owner, may be used by a process running as uid. The owner alone may
// read it (0600, 0400), with one exception, as PostgreSQL allows for its
// key: a file owned by root and read by a non-root service may also be
// readable, not writable, by its group (0640, 0440). That is how
// Kubernetes mounts a Secret for a pod with an fsGroup (root:fsGroup,
// group read), and what the registry-token chart does. Others never get
// access. owner is -1 when unknown.
func KeyModeAllowed(perm fs.FileMode, owner, uid int) bool {
	switch {
	case perm&0o007 != 0:
		return false
	case perm&0o070 == 0:
		return true
	}
	return perm&0o030 == 0 && owner == 0 && uid != 0
}

// fileOwner is the uid owning the file, or -1.
func fileOwner(info os.FileInfo) int {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}
