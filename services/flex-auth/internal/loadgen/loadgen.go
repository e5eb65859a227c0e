// Package loadgen is the bounded load test of flex-auth (and, for
// comparison, of Open Policy Agent serving the equivalent Rego policy in
// this directory). It writes a registry snapshot with the four ops-warden
// actors plus synthetic ones, starts the server as a child process, drives
// POST requests over a fixed number of keep-alive connections for a fixed
// duration with mixed allow and deny bodies, and reports decisions/s,
// latency percentiles and the server's peak RSS.
//
//	go run ./services/flex-auth/cmd/loadgen -duration 15s -target both
//
// The opa binary is OPAVersion, installed with go install into the tools
// cache ($AUTHGATE_TOOLS, default ~/.cache/authgate-tools) on first use,
// unless -opa names one (which must report the same version).
package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

type options struct {
	target    string
	duration  time.Duration
	conns     int
	synthetic int
	bin       string
	opa       string
	policy    string
	workdir   string
	logSync   string
	jsonOut   bool
	endpoint  string
	limitsOn  bool // keep flex-auth's per-caller limits (the flood)
}

// Run parses args (without the program name), loads each target in turn
// and prints the report to stdout; progress goes to stderr. It fails when
// a target gave an unexpected answer or did not log every decision.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.target, "target", "flex-auth", "server to load: flex-auth, opa, both (one after the other, with the ratio), or flood (one caller floods 1,000-item batches against the per-caller limits while another checks)")
	fs.DurationVar(&o.duration, "duration", 15*time.Second, "load duration")
	fs.IntVar(&o.conns, "conns", 32, "concurrent keep-alive connections")
	fs.IntVar(&o.synthetic, "synthetic", 1000, "synthetic actors added to the registry snapshot")
	fs.StringVar(&o.bin, "bin", "", "flex-auth binary (default: go build into the work directory)")
	fs.StringVar(&o.opa, "opa", "", "opa binary ("+OPAVersion+") for -target opa or both (default: installed into the tools cache on first use)")
	fs.StringVar(&o.policy, "policy", "configs/ops-warden/policy_package.md", "policy package for flex-auth")
	fs.StringVar(&o.workdir, "workdir", "", "directory for the snapshot, decision log and binary (default: a temporary directory)")
	fs.StringVar(&o.logSync, "log-sync", "batch", "flex-auth decision log sync mode")
	fs.BoolVar(&o.jsonOut, "json", false, "print the report as JSON")
	fs.StringVar(&o.endpoint, "endpoint", "check", "flex-auth endpoint: check (/v1/check), evaluation (the same checks as AuthZEN evaluations), or both (one after the other, with the ratio)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.target == "flood" {
		if o.duration <= 0 || o.duration > 5*time.Minute || o.conns <= 0 {
			return errors.New("conns must be positive and duration in (0, 5m]")
		}
		return flood(ctx, o, stdout, stderr)
	}
	targets := []string{o.target}
	if o.target == "both" {
		targets = []string{"flex-auth", "opa"}
	}
	if o.target == "opa" || o.target == "both" {
		var err error
		if o.opa == "" {
			o.opa, err = ensureOPA(ctx, stderr)
		} else {
			err = checkOPAVersion(ctx, o.opa)
		}
		if err != nil {
			return err
		}
	}
	endpoints := []string{o.endpoint}
	if o.endpoint == "both" {
		endpoints = []string{"check", "evaluation"}
	}
	var reps []*report
	for _, t := range targets {
		o.target = t
		for _, e := range endpoints {
			if t != "flex-auth" && e != endpoints[0] {
				continue
			}
			o.endpoint = e
			rep, err := load(ctx, o, stderr)
			if err != nil {
				return err
			}
			reps = append(reps, rep)
			if !o.jsonOut {
				rep.print(stdout)
			}
		}
	}
	if o.jsonOut {
		_ = json.NewEncoder(stdout).Encode(reps)
	} else {
		printRatios(stdout, reps)
	}
	for _, r := range reps {
		if r.Errors > 0 {
			return fmt.Errorf("%s gave %d unexpected answers", r.Target, r.Errors)
		}
		if r.LogSync != "" && r.LoggedDecisions < r.Requests {
			return fmt.Errorf("%s answered %d decisions but logged only %d", r.Target, r.Requests, r.LoggedDecisions)
		}
	}
	return nil
}

// load runs one target (o.target) and returns its report.
func load(ctx context.Context, o options, log io.Writer) (*report, error) {
	if o.conns <= 0 || o.duration <= 0 || o.duration > 5*time.Minute {
		return nil, errors.New("conns must be positive and duration in (0, 5m]")
	}
	dir := o.workdir
	if dir == "" {
		d, err := os.MkdirTemp("", "flex-auth-loadgen-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	actors := fixtureActors()
	actors = append(actors, syntheticActors(o.synthetic)...)
	var srv *server
	var reqs []request
	switch o.target {
	case "flex-auth":
		srv, err = startFlexAuth(ctx, o, dir, actors, log)
		if o.endpoint != "check" && o.endpoint != "evaluation" {
			return nil, fmt.Errorf("unknown endpoint %q", o.endpoint)
		}
		reqs = flexAuthRequests(actors, o.endpoint == "evaluation")
	case "opa":
		srv, err = startOPA(ctx, o, dir, actors, log)
		reqs = opaRequests(actors)
	default:
		return nil, fmt.Errorf("unknown target %q", o.target)
	}
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	fmt.Fprintf(log, "loadgen: %s at %s, %d connections, %s, %d actors\n", o.target, srv.addr, o.conns, o.duration, len(actors))
	rep, err := drive(ctx, srv.addr, reqs, o.conns, o.duration)
	if err != nil {
		return nil, err
	}
	rep.Target = o.target
	if o.target == "flex-auth" && o.endpoint == "evaluation" {
		rep.Target += " /access/v1/evaluation"
	}
	rep.Actors = len(actors)
	rep.PeakRSSMiB, rep.RSSMiB = rss(srv.cmd.Process.Pid)
	if o.target == "flex-auth" {
		rep.LogSync = o.logSync
		// the live file and those rotated during the run
		_, rep.LoggedDecisions = logSize(filepath.Join(dir, "decisions*"))
	}
	return rep, nil
}

// printRatios prints the throughput of /access/v1/evaluation over that of
// /v1/check, and of flex-auth over OPA, when the run measured both.
func printRatios(w io.Writer, reps []*report) {
	var check, eval, opa float64
	for _, r := range reps {
		switch r.Target {
		case "flex-auth":
			check = r.PerSecond
		case "flex-auth /access/v1/evaluation":
			eval = r.PerSecond
		case "opa":
			opa = r.PerSecond
		}
	}
	if check > 0 && eval > 0 {
		fmt.Fprintf(w, "ratio:         evaluation/check = %.2f decisions/s\n", eval/check)
	}
	if check > 0 && opa > 0 {
		fmt.Fprintf(w, "ratio:         flex-auth/opa = %.2fx decisions/s\n", check/opa)
	}
}
