package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/stellaops/authgate/services/flex-auth/internal/smoke"
)

const smokeUsage = "--url URL --actor NAME [--subject SUBJECT] [--ca-file PEM] [--timeout 10s]"

// runSmoke is the operator pre-flight: exit 0 when healthz, the allow
// check and the TTL-999 deny check all answer as expected, 1 otherwise.
func runSmoke(ctx context.Context, env Env, args []string) int {
	fs := newFlags(env, "smoke", smokeUsage)
	url := fs.String("url", "", "flex-auth base URL (policy.flex_auth_url), e.g. http://127.0.0.1:18090")
	actor := fs.String("actor", "", "actor to check, e.g. agt-state-hub-bridge")
	subject := fs.String("subject", "", "subject to present (default: the actor name; e.g. iam:<actor>)")
	caFile := fs.String("ca-file", "", "PEM bundle of the CAs an https URL's certificate is verified against (default: the system roots)")
	timeout := fs.Duration("timeout", 10*time.Second, "timeout of the whole pre-flight")
	rest, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if len(rest) > 0 {
		return usageError(env, fs, "unexpected argument %q", rest[0])
	}
	if *url == "" || *actor == "" {
		return usageError(env, fs, "--url and --actor are required")
	}
	client, err := smoke.NewClient(*timeout, *caFile)
	if err != nil {
		return usageError(env, fs, "%v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	err = smoke.Run(ctx, smoke.Options{URL: *url, Actor: *actor, Subject: *subject,
		Client: client, Out: env.Stdout})
	if err != nil {
		fmt.Fprintf(env.Stderr, "flex-auth smoke: %v\n", err)
		return ExitFailure
	}
	fmt.Fprintln(env.Stdout, "smoke: pass")
	return ExitOK
}
