// Package subcmd is the command-line dispatch both services share: a
// table of subcommands (a name of one or two words, "serve" or "policy
// validate"), each with its argument synopsis, a one-line summary and the
// function that runs it, looked up from the process arguments.
package subcmd

import (
	"fmt"
	"io"
	"sort"
)

// Command is one subcommand; Run is the service's own function type.
type Command[F any] struct {
	Usage   string // argument synopsis, e.g. "--file FILE [--json]"
	Summary string
	Run     F
}

// Table maps command names to commands.
type Table[F any] map[string]Command[F]

// Find returns the command args name, a two-word name first, and the
// arguments after the name.
func (t Table[F]) Find(args []string) (Command[F], []string, bool) {
	if len(args) >= 2 {
		if c, ok := t[args[0]+" "+args[1]]; ok {
			return c, args[2:], true
		}
	}
	if len(args) >= 1 {
		if c, ok := t[args[0]]; ok {
			return c, args[1:], true
		}
	}
	return Command[F]{}, nil, false
}

// IsHelp reports whether arg asks for the list of commands.
func IsHelp(arg string) bool {
	switch arg {
	case "help", "-h", "-help", "--help":
		return true
	}
	return false
}

// PrintUsage writes the synopsis of program and its commands, by name.
func (t Table[F]) PrintUsage(w io.Writer, program string) {
	names := make([]string, 0, len(t))
	for name := range t {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "usage: %s <command> [arguments]\n\ncommands:\n", program)
	for _, name := range names {
		c := t[name]
		fmt.Fprintf(w, "  %s %s\n      %s\n", name, c.Usage, c.Summary)
	}
}
