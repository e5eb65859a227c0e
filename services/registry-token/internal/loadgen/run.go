package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stellaops/authgate/pkg/plans"
	"github.com/stellaops/authgate/services/registry-token/internal/e2e"
)

// Defaults and bounds of a load run.
const (
	DefaultDuration = 15 * time.Second
	// MaxDuration bounds a run: long enough for the 10-minute soak.
	MaxDuration        = time.Hour
	DefaultConnections = 32
	// LoadScope is the scope every request asks for.
	LoadScope = "repository:stella-ops/public/base:pull"
	loadPlan  = "community"
)

// Options configures Run.
type Options struct {
	// Duration of the measured run (default DefaultDuration, at most
	// MaxDuration).
	Duration time.Duration
	// Connections is the number of concurrent keep-alive connections
	// (default DefaultConnections).
	Connections int
	// Callers is the number of distinct client keys and OpToks, used
	// round-robin by the connections (default: one per connection).
	Callers int
	// Runner runs registry-token (default: in-process app.Run, whose RSS
	// then includes the load generator). ServerPID reports the pid whose
	// memory is measured (default: this process).
	Runner    e2e.Runner
	ServerPID func() int
	// Dir receives the generated config and signing key (required).
	Dir string
	// Stderr receives the service's logs (default io.Discard).
	Stderr io.Writer
	// Replay is the replay cache backend: "memory" (default), "redis",
	// or "redis-sentinel" / "redis-cluster" on an existing topology
	// (Addrs: the sentinels or the seed nodes; MasterName for Sentinel).
	// With "redis" and no RedisURL, a redis-server child is started (and
	// its CPU and memory reported).
	Replay     string
	Addrs      []string
	MasterName string
	RedisURL   string
	// FreshOpToks makes every request bring a new OpTok (none is ever
	// served from the verified-OpTok cache); by default each caller
	// reuses its OpTok, as clients do.
	FreshOpToks bool
	// FloorDuration is how long each of the two floor measurements (before
	// and after the load) runs (default DefaultFloorDuration).
	FloorDuration time.Duration
}

// DefaultFloorDuration is the default Options.FloorDuration.
const DefaultFloorDuration = time.Second

// Report is the outcome of Run.
type Report struct {
	Stats
	// Memory is the server process's memory: Peak is VmHWM at the end of
	// the run, RSS the largest VmRSS sampled during it.
	Memory Memory
	// InProcess is true when the memory and server CPU figures include
	// the load generator itself.
	InProcess bool
	// ServerCPU and ClientCPU are the CPU time used during the run by the
	// server process and by the load generator (equal when in-process).
	ServerCPU, ClientCPU time.Duration
	// Redis describes the redis-server the run started, if any.
	Redis *RedisFigures
	// FreshOpToks is Options.FreshOpToks.
	FreshOpToks bool
	// Floor is the crypto floor measured in this run (the mean of the
	// measurements before and after the load).
	Floor Floor
}

// FloorRatio is the server's CPU per token over the crypto floor.
func (r Report) FloorRatio() float64 {
	if r.Floor.PerToken() <= 0 {
		return 0
	}
	return float64(r.ServerCPUPerToken()) / float64(r.Floor.PerToken())
}

// RedisFigures are the redis-server's costs over a run.
type RedisFigures struct {
	CPU time.Duration
	// RSS is the process's resident set at the end; UsedMemoryPeak is
	// Redis's own used_memory_peak.
	RSS, UsedMemoryPeak int64
	// Keys held at the end, and commands processed during the run.
	Keys, Commands int64
}

// ServerCPUPerToken is ServerCPU / OK.
func (r Report) ServerCPUPerToken() time.Duration {
	if r.OK == 0 {
		return 0
	}
	return r.ServerCPU / time.Duration(r.OK)
}

// Run starts the Authority and registry-token on loopback, mints the
// OpToks and drives GET /token for the configured duration.
func Run(ctx context.Context, o Options) (Report, error) {
	if o.Dir == "" {
		return Report{}, errors.New("loadgen: Options.Dir is required")
	}
	if o.Duration <= 0 {
		o.Duration = DefaultDuration
	}
	if o.Duration > MaxDuration {
		return Report{}, fmt.Errorf("loadgen: duration %s exceeds the %s bound", o.Duration, MaxDuration)
	}
	if o.Connections <= 0 {
		o.Connections = DefaultConnections
	}
	if o.Callers <= 0 {
		o.Callers = o.Connections
	}
	if o.FloorDuration <= 0 {
		o.FloorDuration = DefaultFloorDuration
	}
	var (
		redisSrv *RedisServer
		rc       map[string]any // a replay cache section other than memory/redis
	)
	switch o.Replay {
	case "", "memory":
	case "redis-sentinel", "redis-cluster":
		// An existing topology: Addrs are the sentinels or the seed nodes.
		if len(o.Addrs) == 0 {
			return Report{}, fmt.Errorf("loadgen: replay backend %s needs -addrs", o.Replay)
		}
		rc = map[string]any{"backend": o.Replay, "cluster": map[string]any{"addrs": o.Addrs}}
		if o.Replay == "redis-sentinel" {
			rc = map[string]any{"backend": o.Replay, "sentinel": map[string]any{"masterName": o.MasterName, "addrs": o.Addrs}}
		}
	case "redis":
		if o.RedisURL == "" {
			var err error
			if redisSrv, err = StartRedis(ctx, o.Dir, o.Stderr); err != nil {
				return Report{}, err
			}
			defer redisSrv.Close()
			o.RedisURL = redisSrv.URL
		}
	default:
		return Report{}, fmt.Errorf("loadgen: replay backend %q is not memory, redis, redis-sentinel or redis-cluster", o.Replay)
	}
	rep := Report{InProcess: o.Runner == nil, FreshOpToks: o.FreshOpToks}
	pid := o.ServerPID
	if pid == nil {
		pid = os.Getpid
	}
	stack, err := e2e.StartStack(ctx, e2e.StackOptions{
		Dir:         o.Dir,
		Plans:       map[string][]plans.Rule{loadPlan: {{Repository: "stella-ops/public/*"}}},
		DefaultPlan: loadPlan,
		Runner:      o.Runner,
		Stderr:      o.Stderr,
		LogLevel:    "warn",
		RedisURL:    o.RedisURL,
		ReplayCache: rc,
	})
	if err != nil {
		return rep, err
	}
	defer func() { _ = stack.Close() }()

	callers := make([]Caller, o.Callers)
	for i := range callers {
		p, err := NewFastProver(http.MethodGet, stack.Realm, nil)
		if err != nil {
			return rep, err
		}
		tok, err := stack.Authority.MintDPoP(fmt.Sprintf("load-%d", i), loadPlan, "lic-load", p.JKT(),
			[]string{"registry.token.issue"}, []string{"registry"}, o.Duration+5*time.Minute)
		if err != nil {
			return rep, err
		}
		p.Bind(tok)
		callers[i] = Caller{Prover: p, OpTok: tok}
	}
	tr := e2e.LoopbackTransport(nil, nil)
	tr.MaxConnsPerHost = o.Connections
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()

	var mint func(jkt string) (string, error)
	if o.FreshOpToks {
		var n atomic.Int64
		mint = func(jkt string) (string, error) {
			return stack.Authority.MintDPoP(fmt.Sprintf("fresh-%d", n.Add(1)), loadPlan, "lic-load", jkt,
				[]string{"registry.token.issue"}, []string{"registry"}, 5*time.Minute)
		}
	}
	floorBefore, err := MeasureFloor(o.FloorDuration / 2)
	if err != nil {
		return rep, err
	}
	serverCPU0, err := ReadCPU(pid())
	if err != nil {
		return rep, err
	}
	clientCPU0, err := ReadCPU(os.Getpid())
	if err != nil {
		return rep, err
	}
	redis0 := redisSample(redisSrv)
	var maxRSS atomic.Int64
	sampleCtx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		sampleRSS(sampleCtx, pid(), &maxRSS)
	}()
	st, err := Drive(ctx, DriveOptions{
		Client:      client,
		Realm:       stack.Realm,
		Query:       map[string][]string{"service": {stack.Service}, "scope": {LoadScope}},
		Callers:     callers,
		Connections: o.Connections,
		Duration:    o.Duration,
		Mint:        mint,
	})
	stopSampling()
	<-sampled
	rep.Stats = st
	if err != nil {
		return rep, err
	}
	serverCPU1, err := ReadCPU(pid())
	if err != nil {
		return rep, err
	}
	clientCPU1, err := ReadCPU(os.Getpid())
	if err != nil {
		return rep, err
	}
	rep.ServerCPU, rep.ClientCPU = serverCPU1-serverCPU0, clientCPU1-clientCPU0
	mem, err := ReadMemory(pid())
	if err != nil {
		return rep, err
	}
	rep.Memory = Memory{RSS: max(maxRSS.Load(), mem.RSS), Peak: mem.Peak}
	floorAfter, err := MeasureFloor(o.FloorDuration / 2)
	if err != nil {
		return rep, err
	}
	rep.Floor = floorBefore.Mean(floorAfter)
	if redisSrv != nil {
		r1 := redisSample(redisSrv)
		rep.Redis = &RedisFigures{CPU: r1.CPU - redis0.CPU, RSS: r1.RSS, UsedMemoryPeak: r1.UsedMemoryPeak,
			Keys: r1.Keys, Commands: r1.Commands - redis0.Commands}
	}
	return rep, nil
}

// redisSample reads the figures of r now (zero when r is nil or does not
// answer).
func redisSample(r *RedisServer) RedisFigures {
	var f RedisFigures
	if r == nil {
		return f
	}
	f.CPU, _ = ReadCPU(r.PID())
	if m, err := ReadMemory(r.PID()); err == nil {
		f.RSS = m.RSS
	}
	if info, err := r.Info("all"); err == nil {
		f.UsedMemoryPeak, _ = strconv.ParseInt(info["used_memory_peak"], 10, 64)
		f.Commands, _ = strconv.ParseInt(info["total_commands_processed"], 10, 64)
		if db, ok := info["db0"]; ok { // keys=N,expires=N,avg_ttl=N
			k, _, _ := strings.Cut(strings.TrimPrefix(db, "keys="), ",")
			f.Keys, _ = strconv.ParseInt(k, 10, 64)
		}
	}
	return f
}

// sampleRSS records the largest VmRSS of pid every 200 ms until ctx ends.
func sampleRSS(ctx context.Context, pid int, maxRSS *atomic.Int64) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if m, err := ReadMemory(pid); err == nil && m.RSS > maxRSS.Load() {
			maxRSS.Store(m.RSS)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// String renders the report with the targets of the performance issue.
func (r Report) String() string {
	where := "server in a child process"
	if r.InProcess {
		where = "server in-process (memory includes the load generator)"
	}
	perTok := func(d time.Duration) time.Duration {
		if r.OK == 0 {
			return 0
		}
		return (d / time.Duration(r.OK)).Round(time.Microsecond)
	}
	redis := ""
	if f := r.Redis; f != nil {
		perCmd := 0.0
		if r.OK > 0 {
			perCmd = float64(f.Commands) / float64(r.OK)
		}
		redis = fmt.Sprintf("\nredis-server: cpu per token=%s VmRSS=%.1f MiB used_memory_peak=%.1f MiB keys=%d commands per token=%.2f",
			perTok(f.CPU), mib(f.RSS), mib(f.UsedMemoryPeak), f.Keys, perCmd)
	}
	optoks := "reused by each caller"
	if r.FreshOpToks {
		optoks = "a new one per request"
	}
	return fmt.Sprintf("%s\nOpToks: %s\nmemory: max VmRSS=%.1f MiB VmHWM=%.1f MiB (%s)\ncpu per token: server=%s load generator=%s%s\ncrypto floor (this machine, this run): %s; server cpu per token / floor=%.2f\ntargets: >=3000 tokens/s %s, p99<=20ms %s, RSS<=100MiB %s, errors=0 %s",
		r.Stats, optoks, mib(r.Memory.RSS), mib(r.Memory.Peak), where, perTok(r.ServerCPU), perTok(r.ClientCPU), redis, r.Floor, r.FloorRatio(),
		verdict(r.TokensPerSecond() >= 3000), verdict(r.P99 <= 20*time.Millisecond),
		verdict(r.Memory.Peak <= 100<<20 && r.Memory.RSS <= 100<<20), verdict(r.Errors == 0))
}

// MeetsTargets reports whether the run met every target.
func (r Report) MeetsTargets() bool {
	return r.TokensPerSecond() >= 3000 && r.P99 <= 20*time.Millisecond && r.Memory.Peak <= 100<<20 && r.Errors == 0 && r.OK > 0
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}
