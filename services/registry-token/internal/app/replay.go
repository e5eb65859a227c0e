package app

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/replaystore"
	"github.com/stellaops/authgate/services/registry-token/internal/config"
	"github.com/stellaops/authgate/services/registry-token/internal/token"
)

// replayStore is the configured replay cache with what the service
// needs around it.
type replayStore struct {
	*replaystore.Store
	// readyAt is the first whole second at which a fresh proof (iat =
	// now) passes the epoch check without a nonce: the epoch plus
	// dpop.clockSkew, rounded up. The service does not report ready
	// before it, so that a new replica costs no client a retry.
	readyAt time.Time
	// logFields describe the store in the start-up log.
	logFields []zap.Field
}

// newReplayCache opens the configured replay cache (pkg/replaystore).
// Any error of the store makes the verifier refuse the proof (fail
// closed, 503). For Redis it begins the epoch now if the marker is
// missing or names another master; a Redis that cannot be reached at
// start is logged by the caller and leaves the service unready until it
// answers.
func newReplayCache(ctx context.Context, a config.Authority, meter metric.Meter, now func() time.Time) (*replayStore, error) {
	st, err := replaystore.Open(ctx, a.ReplayCache, replaystore.Deps{
		KeyPrefix: redisKeyPrefix,
		Memory:    dpop.MemoryOptions{Window: a.DPoP.MaxAge + 2*a.DPoP.ClockSkew},
		Meter:     meter, MetricUp: token.MetricReplayStoreUp, Now: now,
	})
	if err != nil {
		return nil, err
	}
	rs := &replayStore{Store: st}
	switch {
	case st.EpochErr != nil:
		rs.logFields = append(rs.logFields, zap.NamedError("epoch_error", st.EpochErr))
	default:
		rs.readyAt = st.ReadyAt(a.DPoP.ClockSkew)
		rs.logFields = append(rs.logFields, zap.Time("replay_epoch", st.Epoch))
	}
	if m, ok := st.Cache.(*dpop.MemoryReplayCache); ok {
		rs.logFields = append(rs.logFields, zap.Int("max_proofs_per_second", m.ProofsPerSecond(a.DPoP.MaxAge+a.DPoP.ClockSkew)),
			zap.Int("max_entries", a.ReplayCache.MaxEntries))
	} else {
		rs.logFields = append(rs.logFields, zap.String("epoch_key", redisKeyPrefix+dpop.RedisEpochKey),
			zap.Duration("failover_wait", a.ReplayCache.FailoverWait))
	}
	return rs, nil
}

// redisKeyPrefix prefixes registry-token's keys in a shared Redis.
const redisKeyPrefix = "registry-token:dpop:"
