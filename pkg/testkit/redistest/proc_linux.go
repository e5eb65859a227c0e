package redistest

import (
	"os"
	"syscall"
)

// terminate is the signal that stops redis-server cleanly.
func terminate() os.Signal { return syscall.SIGTERM }

// sysProcAttr kills redis-server if the test binary dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
