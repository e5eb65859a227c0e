package devstack

import "syscall"

// childAttr is the children's process attributes: their own process
// group (a Ctrl-C in the terminal reaches only the parent, which then
// stops them in order), and SIGKILL when the parent dies (kill -9 of
// registry-token-dev up, a crash), so that no child keeps its port.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
