package proctest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Figures are the counts every fault scenario reports. Lost counts
// requests whose outcome is unknown or wrong (a transport error where an
// answer was due, an allow that should not have been, a decision missing
// from the log); every scenario asserts it is 0.
type Figures struct {
	Scenario string
	sent     atomic.Int64
	allowed  atomic.Int64
	denied   atomic.Int64
	lost     atomic.Int64

	mu       sync.Mutex
	openAt   time.Time // first failure of the current disruption
	longest  time.Duration
	openings int
}

// NewFigures starts the figures of scenario (e.g. "4" or "8-flex-auth").
func NewFigures(scenario string) *Figures { return &Figures{Scenario: scenario} }

// Sent counts one request sent.
func (f *Figures) Sent() { f.sent.Add(1) }

// Allowed counts one request answered with an allow (or a token).
func (f *Figures) Allowed() { f.allowed.Add(1) }

// Denied counts one request refused with a clear answer.
func (f *Figures) Denied() { f.denied.Add(1) }

// Lost counts one request that got no clear answer.
func (f *Figures) Lost() { f.lost.Add(1) }

// AddLost adds n lost requests found after the fact (e.g. decision ids
// missing from a log).
func (f *Figures) AddLost(n int64) { f.lost.Add(n) }

// Counts returns sent, allowed, denied and lost.
func (f *Figures) Counts() (sent, allowed, denied, lost int64) {
	return f.sent.Load(), f.allowed.Load(), f.denied.Load(), f.lost.Load()
}

// Disrupted marks that a request that should have succeeded failed at
// time at; the disruption lasts until the next Served.
func (f *Figures) Disrupted(at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.openAt.IsZero() || at.Before(f.openAt) {
		if f.openAt.IsZero() {
			f.openings++
		}
		f.openAt = at
	}
}

// Served marks a request that succeeded when it should have, at time at;
// it closes an open disruption.
func (f *Figures) Served(at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.openAt.IsZero() || !at.After(f.openAt) {
		return
	}
	f.longest = max(f.longest, at.Sub(f.openAt))
	f.openAt = time.Time{}
}

// Disruption records a disruption measured elsewhere (e.g. the time from
// a fault to the first success after it).
func (f *Figures) Disruption(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.longest = max(f.longest, d)
}

// LongestDisruption returns the longest disruption so far; one still open
// counts up to now.
func (f *Figures) LongestDisruption() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.longest
	if !f.openAt.IsZero() {
		d = max(d, time.Since(f.openAt))
	}
	return d
}

// String is the one-line summary.
func (f *Figures) String() string {
	sent, allowed, denied, lost := f.Counts()
	return fmt.Sprintf("FAULTS scenario=%s sent=%d allowed=%d denied=%d lost=%d longest_disruption=%s",
		f.Scenario, sent, allowed, denied, lost, f.LongestDisruption().Round(time.Millisecond))
}

// Log prints the summary with t.Logf and fails the test if anything was
// lost.
func (f *Figures) Log(t testing.TB) {
	t.Helper()
	t.Log(f.String())
	if _, _, _, lost := f.Counts(); lost != 0 {
		t.Errorf("scenario %s lost %d requests", f.Scenario, lost)
	}
}
