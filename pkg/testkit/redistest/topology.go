package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Failover timings of the topologies: a master is judged down after
// DownAfter without an answer, then a replica is promoted.
const (
	DownAfter = time.Second
	// MasterName is the name the sentinels monitor the master under.
	MasterName = "replay"
	// topologyTimeout bounds waiting for a topology to form.
	topologyTimeout = 60 * time.Second
)

// Sentinel is a master, its replicas and the sentinels that watch them,
// all on loopback.
type Sentinel struct {
	Servers   []*Server // Servers[0] starts as the master
	Sentinels []*Server
}

// StartSentinel starts one master, replicas replicas of it and sentinels
// redis-sentinel processes (quorum: a majority) that fail over after
// DownAfter. It fails the test when redis-server or redis-sentinel is
// missing.
func StartSentinel(t testing.TB, replicas, sentinels int) *Sentinel {
	t.Helper()
	m := Start(t)
	s := &Sentinel{Servers: []*Server{m}}
	for range replicas {
		s.Servers = append(s.Servers, Start(t, "--replicaof", "127.0.0.1", fmt.Sprint(m.port), "--repl-ping-replica-period", "1"))
	}
	conf := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d %d\nsentinel down-after-milliseconds %s %d\nsentinel failover-timeout %s 10000\nsentinel parallel-syncs %s 1\n",
		MasterName, m.port, sentinels/2+1, MasterName, DownAfter.Milliseconds(), MasterName, MasterName)
	for range sentinels {
		s.Sentinels = append(s.Sentinels, startBin(t, "redis-sentinel", "redis-sentinel", conf))
	}
	// Formed once every sentinel knows the replicas and the other sentinels.
	waitUntil(t, "the sentinels to discover each other and the replicas", func() error {
		for _, sn := range s.Sentinels {
			c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr})
			reps, err := c.Replicas(context.Background(), MasterName).Result()
			others, err2 := c.Sentinels(context.Background(), MasterName).Result()
			_ = c.Close()
			if err != nil || err2 != nil || len(reps) != replicas || len(others) != sentinels-1 {
				return fmt.Errorf("sentinel %s: %d replicas %d sentinels (%v %v)", sn.Addr, len(reps), len(others), err, err2)
			}
		}
		return nil
	})
	return s
}

// SentinelAddrs lists the sentinels' host:port.
func (s *Sentinel) SentinelAddrs() []string {
	var out []string
	for _, sn := range s.Sentinels {
		out = append(out, sn.Addr)
	}
	return out
}

// Master asks a sentinel for the current master and returns its server.
func (s *Sentinel) Master(t testing.TB) *Server {
	t.Helper()
	for _, sn := range s.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr})
		addr, err := c.GetMasterAddrByName(context.Background(), MasterName).Result()
		_ = c.Close()
		if err != nil {
			continue
		}
		for _, srv := range s.Servers {
			if srv.Addr == strings.Join(addr, ":") {
				return srv
			}
		}
	}
	t.Fatal("redistest: no sentinel names a known master")
	return nil
}

// Cluster is a Redis Cluster on loopback.
type Cluster struct {
	Servers []*Server
}

// StartCluster starts masters masters with replicas replicas each, joined
// by `redis-cli --cluster create`, with cluster-node-timeout DownAfter.
func StartCluster(t testing.TB, masters, replicas int) *Cluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatal("redis-cli not found on PATH: install it (apt-get install redis-tools)")
	}
	c := &Cluster{}
	for range masters * (1 + replicas) {
		c.Servers = append(c.Servers, Start(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", fmt.Sprint(DownAfter.Milliseconds())))
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", fmt.Sprint(replicas), "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	waitUntil(t, "the cluster to be ok on every node", func() error {
		for _, srv := range c.Servers {
			rc := redis.NewClient(&redis.Options{Addr: srv.Addr})
			info, err := rc.ClusterInfo(context.Background()).Result()
			_ = rc.Close()
			if err != nil || !strings.Contains(info, "cluster_state:ok") {
				return fmt.Errorf("%s: %v %.60s", srv.Addr, err, info)
			}
		}
		return nil
	})
	return c
}

// Addrs lists every node's host:port.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, s := range c.Servers {
		out = append(out, s.Addr)
	}
	return out
}

// MasterOf returns the node that serves key's slot now.
func (c *Cluster) MasterOf(t testing.TB, key string) *Server {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer cc.Close()
	m, err := cc.MasterForKey(context.Background(), key)
	if err != nil {
		t.Fatalf("redistest: master of %q: %v", key, err)
	}
	addr := m.Options().Addr
	for _, s := range c.Servers {
		if s.Addr == addr {
			return s
		}
	}
	t.Fatalf("redistest: master %s of %q is not a node of the cluster", addr, key)
	return nil
}

func waitUntil(t testing.TB, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(topologyTimeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: waited %s for %s: %v", topologyTimeout, what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
