package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/stellaops/authgate/services/flex-auth/internal/app"
)

const serveUsage = "--addr ADDR --registry FILE --policy FILE|DIR [--policy FILE|DIR ...] [--data FILE] --log FILE [--config FILE] [--watch] [--log-sync always|batch|off] [--log-level LEVEL]"

// runServe runs the decision service until the process is told to stop.
func runServe(ctx context.Context, env Env, args []string) int {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fmt.Fprintf(env.Stdout, "usage: flex-auth serve %s\n", serveUsage)
			app.Usage(env.Stdout)
			return ExitOK
		}
	}
	err := app.Run(ctx, app.Env{Args: args, Environ: env.Vars, Stdout: env.Stdout, Stderr: env.Stderr})
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(env.Stderr, "flex-auth serve: %v\n", err)
	var ue *app.UsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(env.Stderr, "usage: flex-auth serve %s\n", serveUsage)
		return ExitUsage
	}
	return ExitFailure
}
