// Command registry-token issues short-lived Docker registry bearer tokens
// after validating a sender-constrained Authority OpTok and the caller's
// plan entitlements.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/stellaops/authgate/services/registry-token/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := app.Run(ctx, app.Env{Args: os.Args[1:], Environ: os.Environ(), Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	switch {
	case err == nil:
	case errors.Is(err, app.ErrUsage):
		fmt.Fprintln(os.Stderr, "registry-token:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "registry-token:", err)
		os.Exit(1)
	}
}
