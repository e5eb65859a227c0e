// Package cli is the command line of flex-auth: a table of subcommands and
// the dispatcher that runs them.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/stellaops/authgate/pkg/subcmd"
)

// Exit codes shared by every subcommand.
const (
	ExitOK      = 0 // success; the checked input is valid
	ExitFailure = 1 // the input is invalid, a case failed, or the command failed
	ExitUsage   = 2 // the command line is wrong
)

// Env is what a subcommand may use from its process: the environment
// variables (os.Environ form) and the output streams.
type Env struct {
	Vars   []string
	Stdout io.Writer
	Stderr io.Writer
}

// Lookup returns the value of the environment variable key.
func (e Env) Lookup(key string) (string, bool) {
	for i := len(e.Vars) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(e.Vars[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// runFunc is a subcommand: it gets the arguments after the command name and
// returns the process exit code.
type runFunc = func(ctx context.Context, env Env, args []string) int

// commands is the table of subcommands. A name of two words ("policy
// validate") is a command in a group. Add new commands here.
func commands() subcmd.Table[runFunc] {
	return subcmd.Table[runFunc]{
		"load-registry": {
			Usage:   "--file FILE [--json]",
			Summary: "validate a registry snapshot and summarise it",
			Run:     runLoadRegistry,
		},
		"policy validate": {
			Usage:   "[--strict] [--json] FILE...",
			Summary: "check policy packages (style problems are errors with --strict)",
			Run:     runValidate,
		},
		"policy simulate": {
			Usage:   "--policy FILE --registry FILE --cases FILE [--json]",
			Summary: "run cases with expected outcomes through the policy engine",
			Run:     runSimulate,
		},
		"serve": {
			Usage:   serveUsage,
			Summary: "run the policy decision service (POST /v1/check, AuthZEN, /healthz, /readyz, /metrics)",
			Run:     runServe,
		},
		"smoke": {
			Usage:   smokeUsage,
			Summary: "operator pre-flight against a running service: /healthz, one allow and one deny check",
			Run:     runSmoke,
		},
		"log verify": {
			Usage:   "[--key PUB] FILE...",
			Summary: "check a set of decision log files (oldest first) for edited, deleted, reordered or missing lines and files, a cut tail and bad signatures",
			Run:     runLogVerify,
		},
		"log follow": {
			Usage:   "--file FILE [--from-start]",
			Summary: "copy the decision log's new lines to stdout as they are written, across rotations (for log shippers)",
			Run:     runLogFollow,
		},
		"schema": {
			Usage:   "[--out DIR]",
			Summary: "write the JSON Schemas of the snapshot, check request, decision envelope and case file",
			Run:     runSchema,
		},
	}
}

// Run dispatches args (without the program name) to a subcommand and
// returns the exit code.
func Run(ctx context.Context, args []string, vars []string, stdout, stderr io.Writer) int {
	env := Env{Vars: vars, Stdout: stdout, Stderr: stderr}
	table := commands()
	if len(args) == 0 {
		table.PrintUsage(stderr, "flex-auth")
		return ExitUsage
	}
	if subcmd.IsHelp(args[0]) {
		table.PrintUsage(stdout, "flex-auth")
		return ExitOK
	}
	if cmd, rest, ok := table.Find(args); ok {
		return cmd.Run(ctx, env, rest)
	}
	fmt.Fprintf(stderr, "flex-auth: unknown command %q\n\n", strings.Join(args[:min(2, len(args))], " "))
	table.PrintUsage(stderr, "flex-auth")
	return ExitUsage
}

// newFlags returns a flag set that reports to env.Stderr.
func newFlags(env Env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "usage: flex-auth %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args allowing flags after positional arguments, and
// returns the positional arguments. The int is the exit code to return
// when ok is false (0 for -h, 2 for a usage error).
func parseFlags(fs *flag.FlagSet, args []string) (positional []string, code int, ok bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, ExitOK, false
			}
			return nil, ExitUsage, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, 0, true
		}
		if rest[0] == "--" {
			return append(positional, rest[1:]...), 0, true
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// usageError prints a usage problem and returns ExitUsage.
func usageError(env Env, fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(env.Stderr, "flex-auth %s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	fs.Usage()
	return ExitUsage
}
