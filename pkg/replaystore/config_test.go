package replaystore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pass := write("pass", "s3cret-pass\n")
	sentinel := func(c *Config) {
		c.Backend, c.Sentinel = BackendRedisSentinel, Sentinel{MasterName: "m", Addrs: []string{"s1:26379", "s2:26379"}}
	}
	for _, tc := range []struct {
		name     string
		mod      func(*Config)
		problems []string
	}{
		{"memory", func(*Config) {}, nil},
		{"redis", func(c *Config) { c.Backend, c.RedisURL = BackendRedis, "rediss://r:6380/0" }, nil},
		{"sentinel with files", func(c *Config) {
			sentinel(c)
			c.PasswordFile, c.UsernameFile, c.Sentinel.PasswordFile = pass, pass, pass
		}, nil},
		{"cluster with TLS", func(c *Config) {
			c.Backend, c.Cluster.Addrs, c.TLS = BackendRedisCluster, []string{"n1:6379"}, TLS{Enabled: true, ServerName: "redis"}
		}, nil},
		{"unknown backend", func(c *Config) { c.Backend = "disk" }, []string{`x.backend: "disk" is not memory, redis, redis-sentinel or redis-cluster`}},
		{"redis without URL", func(c *Config) { c.Backend = BackendRedis }, []string{"x.redisUrl: required when backend is redis"}},
		{"redis URL not redis", func(c *Config) { c.Backend, c.RedisURL = BackendRedis, "http://user:pw@x" }, []string{"x.redisUrl: not a redis:// or rediss:// URL"}},
		{"redis:// with tls", func(c *Config) { c.Backend, c.RedisURL, c.TLS.Enabled = BackendRedis, "redis://r:6379", true }, []string{"x.tls: set, but redisUrl is a redis:// URL"}},
		{"sentinel: everything missing", func(c *Config) { c.Backend = BackendRedisSentinel },
			[]string{"x.sentinel.masterName: required", "x.sentinel.addrs: at least one host:port"}},
		{"sentinel: bad addr", func(c *Config) { sentinel(c); c.Sentinel.Addrs = []string{"s1", ":1"} },
			[]string{`x.sentinel.addrs[0]: "s1" is not host:port`, `x.sentinel.addrs[1]: ":1" is not host:port`}},
		{"cluster without addrs", func(c *Config) { c.Backend = BackendRedisCluster }, []string{"x.cluster.addrs: at least one host:port"}},
		{"settings of another backend", func(c *Config) { sentinel(c); c.RedisURL, c.Cluster.Addrs = "redis://r", []string{"n:1"} },
			[]string{"x.redisUrl: set, but backend is redis-sentinel", "x.cluster: set, but backend is redis-sentinel"}},
		{"credentials for memory", func(c *Config) { c.PasswordFile = pass }, []string{"x.usernameFile, passwordFile, tls: set, but backend is memory"}},
		{"missing and empty secret files", func(c *Config) {
			sentinel(c)
			c.PasswordFile, c.Sentinel.PasswordFile = filepath.Join(dir, "absent"), write("empty", "\n")
		}, []string{"x.passwordFile: cannot be read", "x.sentinel.passwordFile: is empty"}},
		{"two-line secret", func(c *Config) { sentinel(c); c.PasswordFile = write("two", "a\nb\n") }, []string{"x.passwordFile: holds more than one line"}},
		{"username without password", func(c *Config) { sentinel(c); c.UsernameFile = pass }, []string{"x.usernameFile: set without passwordFile"}},
		{"CA file without PEM", func(c *Config) { sentinel(c); c.TLS.CAFile = pass }, []string{"x.tls.caFile: holds no PEM certificate"}},
		{"failover wait out of range", func(c *Config) { sentinel(c); c.FailoverWait = -1 }, []string{"x.failoverWait: -1ns is outside [0, 1m0s]"}},
		{"maxEntries", func(c *Config) { c.MaxEntries = 0 }, []string{"x.maxEntries: 0 is outside [1, 16777216]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			tc.mod(&c)
			err := errors.Join(c.Validate("x")...)
			if len(tc.problems) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.problems)
			}
			for _, p := range tc.problems {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q lacks %q", err, p)
				}
			}
			if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "pw@") {
				t.Errorf("the error repeats a secret: %v", err)
			}
		})
	}
}
