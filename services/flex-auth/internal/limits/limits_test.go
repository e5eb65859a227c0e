package limits

import (
	"strconv"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newLimiter(t *testing.T, c *clock, rate, burst float64, maxCallers int) *Limiter {
	t.Helper()
	l, err := New(Config{Name: "decisions", Rate: rate, Burst: burst, MaxCallers: maxCallers, LogInterval: 10 * time.Second, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestTakeRefillsAtRate(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := newLimiter(t, c, 100, 200, 10)
	if r := l.Take("a", 200); r != nil {
		t.Fatalf("a full bucket refused its burst: %v", r)
	}
	r := l.Take("a", 50)
	if r == nil || r.RetryAfter != 500*time.Millisecond || r.Limit != "decisions" || r.Caller != "a" {
		t.Fatalf("empty bucket: %+v", r)
	}
	if l.Take("b", 200) != nil {
		t.Fatal("another caller was limited by a's use")
	}
	c.advance(499 * time.Millisecond)
	if l.Take("a", 50) == nil {
		t.Fatal("admitted before the refill")
	}
	c.advance(time.Millisecond)
	if r := l.Take("a", 50); r != nil {
		t.Fatalf("refused after the refill: %v", r)
	}
	c.advance(time.Hour)
	if l.Take("a", 200) != nil || l.Take("a", 1) == nil {
		t.Fatal("the bucket refills beyond its burst")
	}
}

// TestTakeAboveBurst: a request costing more than the burst waits for a
// full bucket, then goes into debt.
func TestTakeAboveBurst(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := newLimiter(t, c, 100, 200, 10)
	if r := l.Take("a", 300); r != nil {
		t.Fatalf("%v", r)
	}
	r := l.Take("a", 1)
	if r == nil || r.RetryAfter != 1010*time.Millisecond {
		t.Fatalf("debt: %+v", r)
	}
}

func TestAdmitAndCharge(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := newLimiter(t, c, 1000, 1000, 10)
	if l.Admit("a") != nil {
		t.Fatal("refused with a full bucket")
	}
	l.Charge("a", 3000)
	r := l.Admit("a")
	if r == nil || r.RetryAfter != 2001*time.Millisecond {
		t.Fatalf("in debt: %+v", r)
	}
	c.advance(2001 * time.Millisecond)
	if l.Admit("a") != nil {
		t.Fatal("refused after the debt was paid")
	}
}

// TestAdmitWaitsForTheRefusedBatch: after a batch of 500 is refused, its
// caller is refused at the door (Admit) until its bucket holds 500, and a
// served Take lets small requests in again.
func TestAdmitWaitsForTheRefusedBatch(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := newLimiter(t, c, 1000, 1000, 10)
	if l.Take("a", 900) != nil || l.Admit("a") != nil {
		t.Fatal("refused within the burst")
	}
	if l.Take("a", 500) == nil {
		t.Fatal("a batch over what is left was served")
	}
	r := l.Admit("a")
	if r == nil || r.RetryAfter != 400*time.Millisecond {
		t.Fatalf("the door admitted a caller whose batch of 500 was refused: %+v", r)
	}
	if l.Admit("b") != nil {
		t.Fatal("another caller waits for a's batch")
	}
	c.advance(400 * time.Millisecond)
	if l.Admit("a") != nil || l.Take("a", 500) != nil {
		t.Fatal("refused once the bucket holds the batch")
	}
	c.advance(time.Millisecond) // one decision back
	if l.Admit("a") != nil {
		t.Fatal("a served batch still holds the door at its size")
	}
}

// TestLogOncePerInterval: the refusals of a caller are to be logged once
// per interval, with how many there were.
func TestLogOncePerInterval(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := newLimiter(t, c, 0.001, 1, 10)
	l.Take("a", 1)
	var logs, counted int
	for range 100 {
		c.advance(100 * time.Millisecond)
		if r := l.Take("a", 5); r != nil && r.Log {
			logs++
			counted += r.Refused
		}
	}
	if logs != 1 {
		t.Fatalf("%d log lines in 10s, want 1", logs)
	}
	c.advance(100 * time.Millisecond)
	r := l.Take("a", 5)
	if r == nil || !r.Log || counted+r.Refused != 101 || r.Refused != 100 {
		t.Fatalf("second interval: %+v, counted %d", r, counted)
	}
}

// TestTableBounded: idle callers are forgotten, the table never grows past
// MaxCallers, and a limited caller cannot escape its debt by being
// forgotten while in it (the least recently seen goes first).
func TestTableBounded(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := newLimiter(t, c, 10, 10, 100)
	for i := range 1000 {
		l.Take("caller-"+strconv.Itoa(i), 1)
		if l.Len() > 100 {
			t.Fatalf("%d callers held", l.Len())
		}
	}
	c.advance(time.Minute)
	l.Take("flooder", 10)
	l.Take("new", 1)
	if l.Len() != 2 {
		t.Fatalf("idle callers kept: %d", l.Len())
	}
	if l.Take("flooder", 1) == nil {
		t.Fatal("the flooder's empty bucket was forgotten")
	}
}

func TestOffAndConfig(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := newLimiter(t, c, 0, 0, 1)
	if l.Take("a", 1e9) != nil {
		t.Fatal("a zero rate limits")
	}
	var none *Limiter
	if none.Take("a", 1) != nil || none.Admit("a") != nil {
		t.Fatal("a nil limiter limits")
	}
	for _, cfg := range []Config{{Rate: -1, MaxCallers: 1}, {Rate: 1, Burst: 0, MaxCallers: 1}, {Rate: 1, Burst: 1}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}
