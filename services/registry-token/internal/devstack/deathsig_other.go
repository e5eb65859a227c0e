//go:build !linux

package devstack

import "syscall"

// childAttr is the children's process attributes: their own process
// group (a Ctrl-C in the terminal reaches only the parent, which then
// stops them in order). Only Linux can tie a child's life to its parent
// (Pdeathsig); elsewhere a child outlives a parent killed with SIGKILL,
// and the next "up" refuses the port it still holds.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
