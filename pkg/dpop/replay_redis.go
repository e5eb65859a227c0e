package dpop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisKeyPrefix prefixes the keys RedisReplayCache writes.
const DefaultRedisKeyPrefix = "dpop:jti:"

// RedisEpochKey is the name, after the prefix, of the epoch marker.
const RedisEpochKey = "epoch"

// RedisClusterGroups is the number of key groups of a RedisReplayCache on
// a Redis Cluster: each group is one hash tag, so one slot, with its own
// epoch marker, and the groups spread over the masters.
const RedisClusterGroups = 64

// RedisReplayCache is a ReplayCache shared by replicas through Redis: a
// single server, a master watched by Sentinel, or a Cluster. A claim is
// one round trip, one script run atomically (EVALSHA): SET key 1 NX PXAT
// <expiresAt in ms>, so Redis keeps each entry until the proof's own
// expiry and drops it after, then the epoch marker.
//
// # Epochs, flushes and failovers
//
// The epoch marker (prefix + RedisEpochKey, no expiry) holds the Unix
// milliseconds since when this Redis has held every entry, and the
// replication id (INFO replication master_replid) of the master that
// wrote it. The claim script compares that id with the master's own, in
// the same atomic step as the claim:
//
//   - the marker disappears with the data (a restart without persistence,
//     FLUSHALL, FLUSHDB): the claim starts a new epoch;
//   - Redis replication is asynchronous, so a master that dies may take
//     its last writes with it, and the replica promoted in its place (by
//     Sentinel, or by the Cluster) lacks them. A promoted replica takes a
//     new replication id, so the first claim on it sees a marker written
//     under another id and starts a new epoch too.
//
// Every claim the old master accepted happened before the failover, so
// before the new epoch: a Verifier with Config.ReplayEpoch accepts such a
// proof only with a nonce issued after it. This costs one INFO call
// inside the script (a few microseconds of Redis CPU) instead of a WAIT
// for a replica on every claim, which would cost a replication round trip
// per token and still not cover a promoted replica that had not acked.
//
// A master cut off from the others (not dead) could keep accepting claims
// that the new master never sees: run the masters with
// min-replicas-to-write 1 (and min-replicas-max-lag) so that an isolated
// master refuses writes. Run Redis with maxmemory-policy noeviction: an
// evicted entry or marker would be a forgotten proof.
//
// On a Cluster the keys are spread over RedisClusterGroups hash tags
// ({prefix<group>}), each with its own marker in its own slot, so that
// the script's two keys are always on one node.
//
// # Errors
//
// Any error from Redis (unreachable, timeout, error reply, out of memory)
// is returned wrapped in ErrReplayStore, and the Verifier rejects the
// proof: a replay check that cannot be made never accepts. With
// WithFailoverWait, a claim that fails because the master is gone is
// tried again until a new master answers or the wait is over; once Redis
// has failed for longer than the wait, claims fail at once until it
// answers again.
//
// Redis expires keys by its own clock: keep it in sync with the
// verifiers' clocks (NTP), as with any shared expiry.
type RedisReplayCache struct {
	client  redis.UniversalClient
	prefix  string
	markers []string // one per group; one without groups
	tags    []string // key prefix per group; the prefix without groups
	now     func() time.Time
	wait    time.Duration
	// downSince is when claims began to fail (Unix ns), 0 while they
	// succeed.
	downSince atomic.Int64
	// first is the earliest epoch seen per master replication id.
	firstMu sync.Mutex
	first   map[string]time.Time
	seen    []string // the marker last seen per group (Cluster)
}

// NewRedisReplayCache returns a RedisReplayCache using client: a
// *redis.Client, a failover client (redis.NewFailoverClient) or a
// *redis.ClusterClient (whose keys are then grouped by hash tags). An
// empty prefix means DefaultRedisKeyPrefix. The caller owns and closes
// client; bound the time a claim may take with the client's timeouts or
// the context.
func NewRedisReplayCache(client redis.UniversalClient, prefix string) *RedisReplayCache {
	if prefix == "" {
		prefix = DefaultRedisKeyPrefix
	}
	c := &RedisReplayCache{client: client, prefix: prefix, now: time.Now}
	if _, cluster := client.(*redis.ClusterClient); cluster {
		for g := range RedisClusterGroups {
			tag := fmt.Sprintf("{%s%02x}", prefix, g)
			c.tags = append(c.tags, tag)
			c.markers = append(c.markers, tag+RedisEpochKey)
		}
	} else {
		c.tags, c.markers = []string{prefix}, []string{prefix + RedisEpochKey}
	}
	return c
}

// WithClock sets the clock that dates a new epoch (default time.Now) and
// returns c.
func (c *RedisReplayCache) WithClock(now func() time.Time) *RedisReplayCache {
	c.now = now
	return c
}

// WithFailoverWait makes a claim that fails on a lost connection or a
// master in transition (READONLY, LOADING, MASTERDOWN, CLUSTERDOWN,
// TRYAGAIN) try again for up to wait, so that the seconds of a Sentinel
// or Cluster failover delay requests instead of failing them. A Redis
// down for longer than wait fails claims at once. Returns c.
func (c *RedisReplayCache) WithFailoverWait(wait time.Duration) *RedisReplayCache {
	c.wait = wait
	return c
}

// epochLua begins both scripts: epoch(marker, now) returns the marker
// ("milliseconds/replication id"), starting a new epoch (now, this
// master's replication id) when the marker is missing, is of the format
// without an id, or names another master. Anything else it returns as
// found, for the caller to refuse.
const epochLua = `
local function epoch(marker, now)
  local id = string.match(redis.call('INFO', 'replication'), 'master_replid:(%w+)')
  local m = redis.call('GET', marker)
  if m then
    local ms, rid = string.match(m, '^(%d+)/(%w+)$')
    if ms and rid == id then return m end
    if not ms and not string.match(m, '^%d+$') then return m end
  end
  redis.call('SET', marker, now .. '/' .. id)
  return now .. '/' .. id
end
`

// claimScript records a claim, then reads the epoch (after the claim):
// {1 if the key was set else 0, epoch ms}.
var claimScript = redis.NewScript(epochLua + `
local set = redis.call('SET', KEYS[1], '1', 'NX', 'PXAT', ARGV[1])
if set then set = 1 else set = 0 end
return {set, epoch(KEYS[2], ARGV[2])}
`)

// epochScript reads the epoch of one marker, starting it when needed.
var epochScript = redis.NewScript(epochLua + `
return epoch(KEYS[1], ARGV[1])
`)

// Claim implements ReplayCache.
func (c *RedisReplayCache) Claim(ctx context.Context, key ReplayKey, expiresAt time.Time) error {
	_, err := c.ClaimEpoch(ctx, key, expiresAt)
	return err
}

// ClaimEpoch implements EpochReplayCache.
func (c *RedisReplayCache) ClaimEpoch(ctx context.Context, key ReplayKey, expiresAt time.Time) (time.Time, error) {
	// Round up to the next millisecond so the key never expires early.
	ms := expiresAt.UnixMilli()
	if expiresAt.Sub(time.UnixMilli(ms)) > 0 {
		ms++
	}
	g := int(key[0]) % len(c.tags)
	keys := []string{c.tags[g] + key.String(), c.markers[g]}
	var res []any
	err := c.retry(ctx, func() (err error) {
		res, err = claimScript.Run(ctx, c.client, keys, ms, c.now().UnixMilli()).Slice()
		return err
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %w", ErrReplayStore, err)
	}
	if len(res) != 2 {
		return time.Time{}, fmt.Errorf("%w: unexpected claim reply %v", ErrReplayStore, res)
	}
	epoch, id, err := c.parseEpoch(keys[1], res[1])
	if err != nil {
		return time.Time{}, err
	}
	epoch, moved := c.observe(g, res[1], id, epoch)
	if moved {
		// A failover moved this group to a new master: open the epoch
		// of every group of it now, before this request is answered
		// (perhaps with a nonce), so that a retry whose proof falls in
		// another group, on any replica, finds its epoch begun already.
		_, _ = c.Epoch(ctx)
	}
	if set, _ := res[0].(int64); set != 1 {
		return epoch, ErrReplayed
	}
	return epoch, nil
}

// Epoch returns the current epoch (the latest over the key groups of a
// Cluster), starting one where the marker is missing or names another
// master (a service calls it at start-up, so that its first clients find
// the epoch already begun).
func (c *RedisReplayCache) Epoch(ctx context.Context) (time.Time, error) {
	var latest time.Time
	for _, m := range c.markers {
		v, err := epochScript.Run(ctx, c.client, []string{m}, c.now().UnixMilli()).Result()
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: read epoch: %w", ErrReplayStore, err)
		}
		e, id, err := c.parseEpoch(m, v)
		if err != nil {
			return time.Time{}, err
		}
		c.observe(slices.Index(c.markers, m), v, id, e)
		if e.After(latest) {
			latest = e
		}
	}
	return latest, nil
}

// Check reports whether every master the cache writes to answers PING.
func (c *RedisReplayCache) Check(ctx context.Context) error {
	var err error
	if cc, ok := c.client.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return m.Ping(ctx).Err() })
	} else {
		err = c.client.Ping(ctx).Err()
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrReplayStore, err)
	}
	return nil
}

func (c *RedisReplayCache) parseEpoch(marker string, v any) (time.Time, string, error) {
	s, _ := v.(string)
	msText, id, ok := strings.Cut(s, "/")
	ms, err := strconv.ParseInt(msText, 10, 64)
	alnum := strings.IndexFunc(id, func(r rune) bool {
		return (r < '0' || r > '9') && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z')
	}) < 0
	if !ok || id == "" || !alnum || err != nil || ms <= 0 {
		return time.Time{}, "", fmt.Errorf("%w: epoch marker %s holds %.40q, not Unix milliseconds and a replication id", ErrReplayStore, marker, s)
	}
	return time.UnixMilli(ms), id, nil
}

// observe records, on a Cluster, the marker v of group g (epoch begun
// on the master with replication id id) under one lock. It returns the
// earliest epoch this cache has seen begin on that master (epoch
// included), and whether the group's marker changed since it was last
// seen (not on the first sight). Each group opens its epoch at its first
// claim after a failover, seconds apart; every one began after the
// master was promoted, so after its predecessor stopped taking claims,
// and the earliest is as safe a start as each group's own. Without it a
// client's retry, whose new proof falls in another group, would be asked
// for a nonce again. A single Redis (one group) returns epoch as is.
func (c *RedisReplayCache) observe(g int, v any, id string, epoch time.Time) (time.Time, bool) {
	if len(c.markers) < 2 {
		return epoch, false
	}
	s, _ := v.(string)
	c.firstMu.Lock()
	defer c.firstMu.Unlock()
	if c.seen == nil {
		c.seen = make([]string, len(c.markers))
	}
	before := c.seen[g]
	c.seen[g] = s
	moved := before != "" && before != s
	if first, ok := c.first[id]; ok && first.Before(epoch) {
		return first, moved
	}
	if c.first == nil || len(c.first) >= 1024 {
		c.first = map[string]time.Time{}
	}
	c.first[id] = epoch
	return epoch, moved
}

// retry runs op, and again while it fails for a reason a failover
// explains, for up to the failover wait counted from when failures began.
func (c *RedisReplayCache) retry(ctx context.Context, op func() error) error {
	pause := 25 * time.Millisecond
	for {
		err := op()
		if err == nil {
			c.downSince.Store(0)
			return nil
		}
		if c.wait <= 0 || !failoverError(err) {
			return err
		}
		now := time.Now().UnixNano()
		c.downSince.CompareAndSwap(0, now)
		if now-c.downSince.Load() >= int64(c.wait) {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		pause = min(2*pause, 200*time.Millisecond)
	}
}

// failoverError reports whether err is what a client sees while a master
// is lost or replaced: a network error, or an error reply of a node in
// transition.
func failoverError(err error) bool {
	if errors.Is(err, redis.ErrClosed) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var nerr net.Error
	if errors.As(err, &nerr) || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "EOF") ||
		strings.Contains(err.Error(), "connection re") { // refused, reset
		return true
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		for _, p := range []string{"READONLY ", "LOADING ", "MASTERDOWN ", "CLUSTERDOWN ", "TRYAGAIN ", "NOREPLICAS "} {
			if strings.HasPrefix(rerr.Error(), p) {
				return true
			}
		}
		return false
	}
	// go-redis's own errors while it looks for the master ("redis: all
	// sentinels specified in configuration are unreachable", ...).
	return strings.HasPrefix(err.Error(), "redis: ")
}
