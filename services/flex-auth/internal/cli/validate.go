package cli

import (
	"context"
	"fmt"
	"os"
	"sort"

	"github.com/stellaops/authgate/pkg/policy"
)

// CodeRead is the diagnostic code of a policy file that cannot be read.
const CodeRead = "read"

func runValidate(_ context.Context, env Env, args []string) int {
	fs := newFlags(env, "policy validate", "[--strict] [--json] FILE...")
	strict := fs.Bool("strict", false, "treat style problems (missing prose, unused reasons, shadowed rules) as errors")
	asJSON := fs.Bool("json", false, "print a JSON array of {file,line,severity,code,message}")
	files, code, ok := parseFlags(fs, args)
	switch {
	case !ok:
		return code
	case len(files) == 0:
		return usageError(env, fs, "no policy file given")
	}
	all := policy.Diagnostics{}
	for _, file := range files {
		diags, pkg := validateFile(file)
		if *strict {
			diags = diags.Strict()
		}
		sort.SliceStable(diags, func(i, j int) bool { return diags[i].Line < diags[j].Line })
		all = append(all, diags...)
		if *asJSON {
			continue
		}
		for _, d := range diags {
			fmt.Fprintln(env.Stdout, d.Error())
		}
		if errs := len(diags.Errors()); errs > 0 {
			fmt.Fprintf(env.Stdout, "%s: invalid: %d errors, %d warnings\n", file, errs, len(diags.Warnings()))
		} else {
			fmt.Fprintf(env.Stdout, "%s: ok: package %s %s, %d rules, %d warnings, %s\n",
				file, pkg.Name(), pkg.Version(), len(pkg.Rules()), len(diags.Warnings()), pkg.Digest())
		}
	}
	if *asJSON {
		writeJSON(env, all)
	}
	if all.HasErrors() {
		return ExitFailure
	}
	return ExitOK
}

// validateFile checks one file; the package is nil when it has errors.
func validateFile(file string) (policy.Diagnostics, *policy.Package) {
	src, err := os.ReadFile(file)
	if err != nil {
		return policy.Diagnostics{{File: file, Severity: policy.SeverityError, Code: CodeRead, Message: err.Error()}}, nil
	}
	pkg, diags := policy.Check(file, src)
	if diags == nil {
		diags = policy.Diagnostics{}
	}
	return diags, pkg
}
