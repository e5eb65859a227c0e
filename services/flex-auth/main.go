// Command flex-auth is the policy decision point for ops-warden: it hosts
// the registry snapshot, evaluates the policy package and answers checks,
// and carries the tools that validate, simulate and describe both.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/stellaops/authgate/services/flex-auth/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
