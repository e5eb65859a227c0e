// Package replaystore opens the DPoP replay cache a service is configured
// with: in memory, or in Redis (a single server, a master watched by
// Sentinel, or a Cluster) through go-redis's own clients, and watches it
// for readiness and metrics. Both services embed its Config.
package replaystore

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/stellaops/authgate/pkg/dpop"
)

// The backends.
const (
	BackendMemory        = "memory"
	BackendRedis         = "redis"
	BackendRedisSentinel = "redis-sentinel"
	BackendRedisCluster  = "redis-cluster"
)

// DefaultFailoverWait is how long a claim waits for a new master.
const DefaultFailoverWait = 5 * time.Second

// MaxMemoryEntries caps maxEntries (at most 128 MiB of tables).
const MaxMemoryEntries = 1 << 24

// maxFailoverWait caps failoverWait: requests are held that long.
const maxFailoverWait = time.Minute

// Config selects and reaches the replay store. Secrets come only from
// files (a mounted Secret): a username, passwords.
type Config struct {
	Backend string `koanf:"backend" yaml:"backend"`
	// RedisURL is the redis:// or rediss:// URL of the redis backend. It
	// may carry a password; prefer PasswordFile.
	RedisURL string   `koanf:"redisUrl" yaml:"redisUrl"`
	Sentinel Sentinel `koanf:"sentinel" yaml:"sentinel"`
	Cluster  Cluster  `koanf:"cluster" yaml:"cluster"`
	// UsernameFile and PasswordFile hold the ACL user and password of the
	// data nodes (master, replicas, cluster nodes).
	UsernameFile string `koanf:"usernameFile" yaml:"usernameFile"`
	PasswordFile string `koanf:"passwordFile" yaml:"passwordFile"`
	TLS          TLS    `koanf:"tls" yaml:"tls"`
	// MaxEntries bounds the memory backend: it holds every proof for the
	// proof lifetime and, when full, refuses new proofs (503) rather than
	// forget one. Not used by the Redis backends.
	MaxEntries int `koanf:"maxEntries" yaml:"maxEntries"`
	// FailoverWait is how long a claim is held while the master is
	// replaced (redis-sentinel and redis-cluster) before it fails with
	// 503; once Redis has failed for longer, claims fail at once.
	FailoverWait time.Duration `koanf:"failoverWait" yaml:"failoverWait"`
}

// Sentinel locates the master through Redis Sentinel.
type Sentinel struct {
	MasterName string   `koanf:"masterName" yaml:"masterName"`
	Addrs      []string `koanf:"addrs" yaml:"addrs"`
	// PasswordFile holds the sentinels' own password (requirepass of the
	// sentinels), if any.
	PasswordFile string `koanf:"passwordFile" yaml:"passwordFile"`
}

// Cluster lists seed nodes of a Redis Cluster.
type Cluster struct {
	Addrs []string `koanf:"addrs" yaml:"addrs"`
}

// TLS secures the connections (all three Redis backends; for redis, a
// rediss:// URL turns it on as well).
type TLS struct {
	Enabled bool `koanf:"enabled" yaml:"enabled"`
	// CAFile verifies the servers (default: the system roots).
	CAFile string `koanf:"caFile" yaml:"caFile"`
	// ServerName is the name expected in the servers' certificates
	// (default: the host dialled).
	ServerName string `koanf:"serverName" yaml:"serverName"`
}

// Defaults is the memory backend, with the default failover wait.
func Defaults() Config {
	return Config{Backend: BackendMemory, MaxEntries: dpop.DefaultMemoryReplayEntries, FailoverWait: DefaultFailoverWait}
}

// IsRedis reports whether the backend is one of the Redis backends.
func (c Config) IsRedis() bool { return c.Backend != BackendMemory }

// Validate reports every problem, each prefixed with the config path of
// the section (e.g. "authority.replayCache"). It reads the files it
// names; no error repeats a secret.
func (c Config) Validate(path string) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(path+"."+format, args...)) }
	set := map[string]bool{"redisUrl": c.RedisURL != "", "sentinel": c.Sentinel.MasterName != "" || len(c.Sentinel.Addrs) > 0 || c.Sentinel.PasswordFile != "",
		"cluster": len(c.Cluster.Addrs) > 0}
	own := map[string]string{BackendRedis: "redisUrl", BackendRedisSentinel: "sentinel", BackendRedisCluster: "cluster"}
	switch c.Backend {
	case BackendMemory, BackendRedis, BackendRedisSentinel, BackendRedisCluster:
	default:
		add("backend: %q is not memory, redis, redis-sentinel or redis-cluster", c.Backend)
		return errs
	}
	for _, k := range []string{"redisUrl", "sentinel", "cluster"} {
		if set[k] && own[c.Backend] != k {
			add("%s: set, but backend is %s", k, c.Backend)
		}
	}
	if n := c.MaxEntries; n <= 0 || n > MaxMemoryEntries {
		add("maxEntries: %d is outside [1, %d]", n, MaxMemoryEntries)
	}
	if c.Backend == BackendMemory {
		if c.UsernameFile != "" || c.PasswordFile != "" || c.TLS != (TLS{}) {
			add("usernameFile, passwordFile, tls: set, but backend is memory")
		}
		return errs
	}
	switch c.Backend {
	case BackendRedis:
		if c.RedisURL == "" {
			add("redisUrl: required when backend is redis")
		} else if _, err := dpop.RedisOptions(c.RedisURL); err != nil {
			add("redisUrl: %v", err)
		} else if u, _ := url.Parse(c.RedisURL); u != nil && u.Scheme == "redis" && c.TLS != (TLS{}) {
			add("tls: set, but redisUrl is a redis:// URL (TLS is rediss://)")
		}
	case BackendRedisSentinel:
		if c.Sentinel.MasterName == "" {
			add("sentinel.masterName: required when backend is redis-sentinel")
		}
		errs = append(errs, checkAddrs(path+".sentinel.addrs", c.Sentinel.Addrs)...)
	case BackendRedisCluster:
		errs = append(errs, checkAddrs(path+".cluster.addrs", c.Cluster.Addrs)...)
	}
	for _, f := range []struct{ key, file string }{{"usernameFile", c.UsernameFile}, {"passwordFile", c.PasswordFile}, {"sentinel.passwordFile", c.Sentinel.PasswordFile}} {
		if f.file == "" {
			continue
		}
		if _, err := readSecret(f.file); err != nil {
			add("%s: %v", f.key, err)
		}
	}
	if c.UsernameFile != "" && c.PasswordFile == "" {
		add("usernameFile: set without passwordFile")
	}
	if c.TLS.CAFile != "" {
		if _, err := rootCAs(c.TLS.CAFile); err != nil {
			add("tls.caFile: %v", err)
		}
	}
	if c.FailoverWait < 0 || c.FailoverWait > maxFailoverWait {
		add("failoverWait: %s is outside [0, %s]", c.FailoverWait, maxFailoverWait)
	}
	return errs
}

func checkAddrs(path string, addrs []string) []error {
	if len(addrs) == 0 {
		return []error{fmt.Errorf("%s: at least one host:port is required", path)}
	}
	var errs []error
	for i, a := range addrs {
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" || port == "" {
			errs = append(errs, fmt.Errorf("%s[%d]: %q is not host:port", path, i, a))
		}
	}
	return errs
}

// readSecret reads a one-line secret file; trailing newlines are dropped.
func readSecret(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", errors.New("cannot be read: " + strings.TrimPrefix(err.Error(), "open "+file+": "))
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", errors.New("is empty")
	}
	if strings.ContainsAny(s, "\r\n") {
		return "", errors.New("holds more than one line")
	}
	return s, nil
}

func rootCAs(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, errors.New("cannot be read: " + strings.TrimPrefix(err.Error(), "open "+file+": "))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, errors.New("holds no PEM certificate")
	}
	return pool, nil
}

// tlsConfig is the client TLS configuration, nil when TLS is off.
func (c Config) tlsConfig() (*tls.Config, error) {
	if !c.TLS.Enabled && c.TLS.CAFile == "" && c.TLS.ServerName == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLS.ServerName}
	if c.TLS.CAFile != "" {
		pool, err := rootCAs(c.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.caFile: %w", err)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
