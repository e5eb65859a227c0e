// Command k8s-pause is the pod sandbox process of the end-to-end cluster
// (deploy/internal/cluster): it holds the pod's namespaces, reaps the
// children it inherits as PID 1, and exits on SIGTERM or SIGINT. It is
// imported as the sandbox image, so no node pulls registry.k8s.io/pause.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			return
		}
		for {
			var status syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
