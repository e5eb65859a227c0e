// Command loadgen runs the bounded /token load test:
//
//	go run ./services/registry-token/cmd/loadgen [-duration 15s] [-connections 32] [-replay memory|redis] [-fresh-optoks] [-in-process]
//
// It prints the figures and whether each target was met (>= 3000
// tokens/s, p99 <= 20 ms, RSS <= 100 MiB, no errors); with -check it exits
// 1 when one was missed. "cmd registry-token <args>" runs the service
// itself; the load generator uses that to start the server as a child
// process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/stellaops/authgate/services/registry-token/internal/app"
	"github.com/stellaops/authgate/services/registry-token/internal/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, app.ErrUsage), errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "registry-token" {
		return app.Run(ctx, app.Env{Args: args[1:], Environ: environ, Stdout: stdout, Stderr: stderr})
	}
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	duration := fs.Duration("duration", loadgen.DefaultDuration, "measured duration (at most 1h; the soak runs 10m)")
	replay := fs.String("replay", "memory", "replay cache backend: memory, redis (a redis-server child unless -redis-url), redis-sentinel or redis-cluster (on an existing topology: -addrs)")
	addrs := fs.String("addrs", "", "with -replay redis-sentinel or redis-cluster: the sentinels or seed nodes, host:port,...")
	master := fs.String("master-name", "", "with -replay redis-sentinel: the master's name in the sentinels")
	redisURL := fs.String("redis-url", "", "with -replay redis: an existing Redis instead of a redis-server child")
	conns := fs.Int("connections", loadgen.DefaultConnections, "concurrent keep-alive connections")
	callers := fs.Int("callers", 0, "distinct client keys and OpToks (default: one per connection)")
	fresh := fs.Bool("fresh-optoks", false, "every request brings a new OpTok (default: each caller reuses its OpTok, as clients do)")
	inProcess := fs.Bool("in-process", false, "run registry-token in this process (RSS then includes the load generator)")
	verbose := fs.Bool("v", false, "show the service's logs")
	check := fs.Bool("check", false, "exit 1 when a target is missed")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of this process to the file (with -in-process it covers the server)")
	memProfile := fs.String("memprofile", "", "write an allocation profile of this process to the file at the end (with -in-process it covers the server)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "registry-token-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	opts := loadgen.Options{Duration: *duration, Connections: *conns, Callers: *callers, Dir: dir, Replay: *replay, RedisURL: *redisURL, FreshOpToks: *fresh,
		MasterName: *master}
	if *addrs != "" {
		opts.Addrs = strings.Split(*addrs, ",")
	}
	if *verbose {
		opts.Stderr = stderr
	}
	if !*inProcess {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		var pid atomic.Int64
		opts.Runner = loadgen.ChildRunner(exe, []string{"registry-token"}, func(p int) { pid.Store(int64(p)) })
		opts.ServerPID = func() int { return int(pid.Load()) }
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := loadgen.Run(ctx, opts)
	if err != nil {
		return err
	}
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout, rep)
	if *check && !rep.MeetsTargets() {
		return errors.New("a target was missed")
	}
	return nil
}
