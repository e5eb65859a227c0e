//go:build !linux

package redistest

import (
	"os"
	"syscall"
)

func terminate() os.Signal { return os.Interrupt }

func sysProcAttr() *syscall.SysProcAttr { return nil }
