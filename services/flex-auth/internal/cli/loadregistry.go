package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stellaops/authgate/services/flex-auth/internal/snapshot"
)

// registryReport is the --json output of load-registry.
type registryReport struct {
	File         string         `json:"file"`
	Valid        bool           `json:"valid"`
	Version      int            `json:"version,omitempty"`
	Source       string         `json:"source,omitempty"`
	GeneratedAt  string         `json:"generated_at,omitempty"`
	Actors       int            `json:"actors"`
	ActorsByType map[string]int `json:"actors_by_type,omitempty"`
	Digest       string         `json:"digest,omitempty"`
	Errors       []problem      `json:"errors,omitempty"`
}

type problem struct {
	Path    string `json:"path"`
	Actor   string `json:"actor,omitempty"`
	Problem string `json:"problem"`
}

func runLoadRegistry(_ context.Context, env Env, args []string) int {
	fs := newFlags(env, "load-registry", "--file FILE [--json]")
	file := fs.String("file", "", "registry snapshot to validate (required)")
	asJSON := fs.Bool("json", false, "print a JSON report")
	rest, code, ok := parseFlags(fs, args)
	switch {
	case !ok:
		return code
	case len(rest) > 0:
		return usageError(env, fs, "unexpected argument %q", rest[0])
	case *file == "":
		return usageError(env, fs, "--file is required")
	}
	rep := registryReport{File: *file}
	s, err := snapshot.LoadFile(*file)
	if err != nil {
		rep.Errors = problems(err)
	} else {
		rep.Valid = true
		rep.Version = s.Version()
		rep.Source = s.Source()
		if !s.GeneratedAt().IsZero() {
			rep.GeneratedAt = s.GeneratedAt().UTC().Format(time.RFC3339)
		}
		rep.Actors = s.Len()
		rep.ActorsByType = s.CountByType()
		rep.Digest = s.Digest()
	}
	if *asJSON {
		writeJSON(env, rep)
	} else {
		printRegistryReport(env, rep)
	}
	if !rep.Valid {
		return ExitFailure
	}
	return ExitOK
}

// problems flattens a joined snapshot error into one entry per problem.
func problems(err error) []problem {
	var out []problem
	var walk func(error)
	walk = func(e error) {
		if joined, ok := e.(interface{ Unwrap() []error }); ok {
			for _, inner := range joined.Unwrap() {
				walk(inner)
			}
			return
		}
		var fe *snapshot.FieldError
		if errors.As(e, &fe) {
			out = append(out, problem{Path: fe.Path, Actor: fe.Actor, Problem: fe.Problem})
			return
		}
		out = append(out, problem{Path: "(file)", Problem: e.Error()})
	}
	walk(err)
	return out
}

func printRegistryReport(env Env, rep registryReport) {
	if !rep.Valid {
		fmt.Fprintf(env.Stdout, "%s: invalid registry snapshot (%d problems)\n", rep.File, len(rep.Errors))
		for _, p := range rep.Errors {
			fe := snapshot.FieldError{Path: p.Path, Actor: p.Actor, Problem: p.Problem}
			fmt.Fprintf(env.Stdout, "  %s\n", fe.Error())
		}
		return
	}
	var byType []string
	for _, t := range snapshot.Types() {
		byType = append(byType, fmt.Sprintf("%s %d", t, rep.ActorsByType[t]))
	}
	fmt.Fprintf(env.Stdout, "%s: valid registry snapshot\n", rep.File)
	fmt.Fprintf(env.Stdout, "  version:      %d\n", rep.Version)
	if rep.Source != "" {
		fmt.Fprintf(env.Stdout, "  source:       %s\n", rep.Source)
	}
	if rep.GeneratedAt != "" {
		fmt.Fprintf(env.Stdout, "  generated_at: %s\n", rep.GeneratedAt)
	}
	fmt.Fprintf(env.Stdout, "  actors:       %d (%s)\n", rep.Actors, strings.Join(byType, ", "))
	fmt.Fprintf(env.Stdout, "  digest:       %s\n", rep.Digest)
}

func writeJSON(env Env, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		fmt.Fprintf(env.Stderr, "flex-auth: %v\n", err)
		return
	}
	_, _ = env.Stdout.Write(append(b, '\n'))
}
