package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/stellaops/authgate/pkg/policy"
	"github.com/stellaops/authgate/services/flex-auth/internal/engine"
	"github.com/stellaops/authgate/services/flex-auth/internal/entities"
	"github.com/stellaops/authgate/services/flex-auth/internal/snapshot"
)

// caseResult is the outcome of one simulated case.
type caseResult struct {
	Name           string `json:"name"`
	Actor          string `json:"actor"`
	Subject        string `json:"subject"`
	Principal      string `json:"principal"`
	TTLHours       int64  `json:"ttl_hours"`
	ExpectedEffect string `json:"expected_effect"`
	ExpectedReason string `json:"expected_reason"`
	Effect         string `json:"effect"`
	Reason         string `json:"reason"`
	RuleID         string `json:"rule,omitempty"`
	Error          string `json:"error,omitempty"`
	Pass           bool   `json:"pass"`
}

// simulationReport is the --json output of policy simulate.
type simulationReport struct {
	Policy   policyRef    `json:"policy"`
	Registry registryRef  `json:"registry"`
	Cases    []caseResult `json:"cases"`
	Passed   int          `json:"passed"`
	Failed   int          `json:"failed"`
}

type policyRef struct {
	File    string `json:"file"`
	Package string `json:"package"`
	Version string `json:"version"`
	Digest  string `json:"digest"`
}

type registryRef struct {
	File   string `json:"file"`
	Digest string `json:"digest"`
}

func runSimulate(_ context.Context, env Env, args []string) int {
	fs := newFlags(env, "policy simulate", "--policy FILE --registry FILE --cases FILE [--data FILE] [--json]")
	policyFile := fs.String("policy", "", "policy package (required)")
	registryFile := fs.String("registry", "", "registry snapshot (required)")
	casesFile := fs.String("cases", "", "case file, YAML or JSON (required)")
	dataFile := fs.String("data", "", "entity data document the package's conditions read")
	asJSON := fs.Bool("json", false, "print a JSON report")
	rest, code, ok := parseFlags(fs, args)
	switch {
	case !ok:
		return code
	case len(rest) > 0:
		return usageError(env, fs, "unexpected argument %q", rest[0])
	case *policyFile == "" || *registryFile == "" || *casesFile == "":
		return usageError(env, fs, "--policy, --registry and --cases are required")
	}
	var data policy.Data
	if *dataFile != "" {
		d, err := entities.LoadFile(*dataFile)
		if err != nil {
			fmt.Fprintf(env.Stderr, "flex-auth policy simulate: data %s:\n%v\n", *dataFile, err)
			return ExitFailure
		}
		data = d
	}
	src, err := os.ReadFile(*policyFile)
	var pkg *policy.Package
	if err == nil {
		pkg, err = policy.ParseWith(*policyFile, src, policy.Options{Data: data})
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "flex-auth policy simulate: policy %s:\n%v\n", *policyFile, err)
		return ExitFailure
	}
	reg, err := snapshot.LoadFile(*registryFile)
	if err != nil {
		fmt.Fprintf(env.Stderr, "flex-auth policy simulate: registry %s:\n%v\n", *registryFile, err)
		return ExitFailure
	}
	cases, err := loadCases(*casesFile)
	if err != nil {
		fmt.Fprintf(env.Stderr, "flex-auth policy simulate: cases %s:\n%v\n", *casesFile, err)
		return ExitFailure
	}
	rep := simulate(pkg, reg, cases)
	rep.Policy.File, rep.Registry.File = *policyFile, *registryFile
	if *asJSON {
		writeJSON(env, rep)
	} else {
		printSimulation(env, rep)
	}
	if rep.Failed > 0 {
		return ExitFailure
	}
	return ExitOK
}

// simulate runs every case the way the service decides a check: look the
// actor up, apply defaults, evaluate.
func simulate(pkg *policy.Package, reg *snapshot.Snapshot, cases *CaseFile) simulationReport {
	rep := simulationReport{
		Policy:   policyRef{Package: pkg.Name(), Version: pkg.Version(), Digest: pkg.Digest()},
		Registry: registryRef{Digest: reg.Digest()},
		Cases:    []caseResult{},
	}
	for i := range cases.Cases {
		c := &cases.Cases[i]
		res := runCase(pkg, reg, c)
		res.Pass = res.Error == "" && res.Effect == res.ExpectedEffect && res.Reason == res.ExpectedReason
		if res.Pass {
			rep.Passed++
		} else {
			rep.Failed++
		}
		rep.Cases = append(rep.Cases, res)
	}
	return rep
}

func printSimulation(env Env, rep simulationReport) {
	fmt.Fprintf(env.Stdout, "policy   %s %s %s\n", rep.Policy.Package, rep.Policy.Version, rep.Policy.Digest)
	fmt.Fprintf(env.Stdout, "registry %s %s\n\n", rep.Registry.File, rep.Registry.Digest)
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RESULT\tCASE\tACTOR\tSUBJECT\tTTL\tEXPECTED\tGOT\tRULE")
	for _, r := range rep.Cases {
		status := "PASS"
		if !r.Pass {
			status = "FAIL"
		}
		got := r.Effect + " " + r.Reason
		if r.Error != "" {
			got += " (error: " + r.Error + ")"
		}
		rule := r.RuleID
		if rule == "" {
			rule = "(default)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s %s\t%s\t%s\n", status, r.Name, r.Actor, r.Subject, r.TTLHours,
			r.ExpectedEffect, r.ExpectedReason, got, rule)
	}
	_ = tw.Flush()
	fmt.Fprintf(env.Stdout, "\n%d cases: %d passed, %d failed\n", len(rep.Cases), rep.Passed, rep.Failed)
}

// runCase decides one case as the service would: a check request (or an
// evaluation mapped onto one) for a check package, the whole evaluation
// for an authzen package.
func runCase(pkg *policy.Package, reg *snapshot.Snapshot, c *Case) caseResult {
	res := caseResult{Name: c.Name, ExpectedEffect: c.Expect.Effect, ExpectedReason: c.Expect.Reason}
	var v policy.Verdict
	var err error
	switch {
	case pkg.Shape() == policy.ShapeAuthZEN && c.Evaluation != nil:
		v, err = pkg.EvaluateAuthZEN(c.Evaluation.Policy())
		res.Subject = c.Evaluation.Subject.ID
	case pkg.Shape() == policy.ShapeAuthZEN:
		err = errors.New("an authzen package decides evaluation cases, not check requests")
	default:
		req := c.Request.Policy()
		if c.Evaluation != nil {
			if req, err = engine.CheckRequest(c.Evaluation.Policy()); err != nil {
				break
			}
		}
		var actor *policy.Actor
		if a, ok := reg.Lookup(req.Actor); ok {
			actor = a
		}
		req.ApplyDefaults(actor)
		v, err = pkg.Evaluate(&req, actor)
		res.Actor, res.Subject, res.Principal, res.TTLHours = req.Actor, req.Subject, req.Principal, req.TTLHours
	}
	res.Effect, res.Reason, res.RuleID = string(v.Effect), v.Reason, v.RuleID
	if err != nil {
		res.Error = err.Error()
	}
	return res
}
