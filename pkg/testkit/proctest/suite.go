package proctest

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"
)

// ScaleFlag is the test binary flag that selects the Scale of a fault
// suite: go test ./... -args -faults.scale=full.
const ScaleFlag = "faults.scale"

// MainScaled is Main for a fault suite: it registers -faults.scale,
// parses the flags, stores the scale in s and runs the tests (exit code
// 2 for a bad scale). Use it from TestMain:
//
//	var scale proctest.Scale
//	func TestMain(m *testing.M) { os.Exit(proctest.MainScaled(m, &scale)) }
func MainScaled(m *testing.M, s *Scale) int {
	v := flag.String(ScaleFlag, "short", "short (CI) or full (the reported run)")
	flag.Parse()
	parsed, err := ParseScale(*v)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	*s = parsed
	return Main(m)
}

// WaitFor polls cond every 10 ms for at most d and fails the test with
// what when it does not hold by then.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// NewClient is an HTTP client for conns concurrent connections to one
// service, each request bounded by timeout.
func NewClient(conns int, timeout time.Duration) *http.Client {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, IdleConnTimeout: 30 * time.Second}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// Repeat is an endless stream of b (bound it with io.LimitReader).
func Repeat(b byte) io.Reader { return repeatReader(b) }

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// Soak is a soak run: a calibration burst at full speed, then the
// service driven at half the measured rate for Duration, with its RSS
// and goroutines compared at the start and the end of the steady state.
type Soak struct {
	// Workers is the number of concurrent callers.
	Workers int
	// Bench is the length of the calibration burst.
	Bench time.Duration
	// Duration is the length of the soak at half the measured rate.
	Duration time.Duration
	// Warm is when the steady state starts (default Duration/10).
	Warm time.Duration
	// Unit names the requests in the summary ("checks", "tokens").
	Unit string
}

// Run soaks p with do (called with each request's index; it counts the
// request in fig), then checks with CheckGrowth that the usage did not
// grow and logs fig.
func (s Soak) Run(t *testing.T, p *Proc, fig *Figures, do func(i int64)) {
	t.Helper()
	ctx := context.Background()
	_, bench := Pace(ctx, 0, s.Workers, s.Bench, do)
	rate := bench / 2
	warm := s.Warm
	if warm <= 0 {
		warm = s.Duration / 10
	}
	Pace(ctx, rate, s.Workers, warm, do)
	start, err := p.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	Pace(ctx, rate, s.Workers, s.Duration-warm, do)
	end, err := p.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sent, _, _, _ := fig.Counts()
	t.Logf("benchmark %.0f %s/s, soak at %.0f/s for %s (%d requests); start %s, end %s", bench, s.Unit, rate, s.Duration, sent, start, end)
	CheckGrowth(t, start, end)
	fig.Log(t)
}
