// Package limits keeps one token bucket per caller, so that one caller
// cannot take the whole service: a request takes what it costs (decisions,
// search candidates) from its caller's bucket, which refills at a steady
// rate up to a burst. The table of buckets is bounded: a caller idle long
// enough for its bucket to be full again is forgotten (a full bucket is
// what a new caller gets), and when the table is full the caller seen
// least recently goes.
package limits

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// Config configures a Limiter.
type Config struct {
	// Name names the limit in errors and logs ("decisions").
	Name string
	// Rate is how many units a caller gets per second; 0 turns the limit
	// off.
	Rate float64
	// Burst is the most a caller may take at once (a full bucket).
	Burst float64
	// MaxCallers bounds the table of buckets.
	MaxCallers int
	// LogInterval is the least time between two Refusal.Log of one caller.
	LogInterval time.Duration
	Now         func() time.Time
}

// Limiter is a table of token buckets, one per caller. Safe for concurrent
// use.
type Limiter struct {
	cfg     Config
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens  float64   // may be negative: a debt (Charge)
	at      time.Time // when tokens was computed
	logged  time.Time // last Refusal with Log
	refused int       // refusals since the last Refusal with Log
	want    float64   // what the caller's last refused Take needed: Admit waits for it
}

// Refusal is the answer to a caller over its limit.
type Refusal struct {
	Limit      string
	Caller     string
	RetryAfter time.Duration // when the request would be admitted
	// Log is set on the first refusal of a caller in each LogInterval;
	// Refused then counts the refusals of that caller since the last one.
	Log     bool
	Refused int
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("%s limit of the caller reached; retry after %s", r.Limit, r.RetryAfter)
}

// New returns a Limiter.
func New(cfg Config) (*Limiter, error) {
	var errs []error
	if cfg.Rate < 0 || math.IsNaN(cfg.Rate) || math.IsInf(cfg.Rate, 0) {
		errs = append(errs, fmt.Errorf("%s: rate must be a non-negative number", cfg.Name))
	}
	if cfg.Rate > 0 && cfg.Burst < 1 {
		errs = append(errs, fmt.Errorf("%s: burst must be at least 1", cfg.Name))
	}
	if cfg.MaxCallers < 1 {
		errs = append(errs, fmt.Errorf("%s: maxCallers must be at least 1", cfg.Name))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{cfg: cfg, buckets: map[string]*bucket{}}, nil
}

// Take takes n units from caller's bucket, or takes nothing and refuses
// when fewer than n are there (n above the burst waits for a full bucket).
func (l *Limiter) Take(caller string, n float64) *Refusal {
	return l.take(caller, n, math.Min(n, l.burst()))
}

// Admit refuses caller while its bucket holds less than one unit, or less
// than its last refused Take needed, without taking anything: for
// requests whose cost is known only afterwards (Charge, or Take once a
// batch is decoded), so that a caller over its limit is refused before
// its request is read. A caller whose refused batch asked n waits at the
// door until its bucket holds n (at most the burst), instead of being
// read and refused again in between.
func (l *Limiter) Admit(caller string) *Refusal {
	return l.take(caller, 0, -1)
}

func (l *Limiter) burst() float64 {
	if l == nil {
		return 0
	}
	return l.cfg.Burst
}

// take takes n units when the bucket holds need; need < 0 admits (see
// Admit).
func (l *Limiter) take(caller string, n, need float64) *Refusal {
	if l == nil || l.cfg.Rate == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	b := l.bucket(caller, now)
	admit := need < 0
	if admit {
		need = math.Max(1, b.want)
	}
	if b.tokens >= need {
		b.tokens -= n
		if !admit {
			b.want = 0
		}
		return nil
	}
	if !admit {
		b.want = need
	}
	return l.refuse(caller, b, need, now)
}

// Charge takes n units from caller's bucket after the fact; the bucket may
// go into debt, which later requests wait out.
func (l *Limiter) Charge(caller string, n float64) {
	if l == nil || l.cfg.Rate == 0 || n <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	l.bucket(caller, now).tokens -= n
}

// Len is how many callers the table holds.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

func (l *Limiter) refuse(caller string, b *bucket, need float64, now time.Time) *Refusal {
	r := &Refusal{Limit: l.cfg.Name, Caller: caller,
		RetryAfter: time.Duration((need - b.tokens) / l.cfg.Rate * float64(time.Second))}
	b.refused++
	if b.logged.IsZero() || now.Sub(b.logged) >= l.cfg.LogInterval {
		r.Log, r.Refused = true, b.refused
		b.logged, b.refused = now, 0
	}
	return r
}

// bucket returns caller's bucket refilled to now, making room for it.
func (l *Limiter) bucket(caller string, now time.Time) *bucket {
	b, ok := l.buckets[caller]
	if !ok {
		if len(l.buckets) >= l.cfg.MaxCallers {
			l.evict(now)
		}
		b = &bucket{tokens: l.cfg.Burst, at: now}
		l.buckets[caller] = b
		return b
	}
	if dt := now.Sub(b.at).Seconds(); dt > 0 {
		b.tokens = math.Min(l.cfg.Burst, b.tokens+dt*l.cfg.Rate)
		b.at = now
	}
	return b
}

// evict forgets the callers whose buckets are full again (nothing is lost:
// a new caller starts full), or, when none is, the one seen least
// recently.
func (l *Limiter) evict(now time.Time) {
	var oldest string
	var oldestAt time.Time
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.cfg.Rate >= l.cfg.Burst && now.Sub(b.logged) >= l.cfg.LogInterval {
			delete(l.buckets, k)
			continue
		}
		if oldest == "" || b.at.Before(oldestAt) {
			oldest, oldestAt = k, b.at
		}
	}
	if len(l.buckets) >= l.cfg.MaxCallers {
		delete(l.buckets, oldest)
	}
}
