package proctest

import (
	"context"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestFigures(t *testing.T) {
	f := NewFigures("x")
	f.Sent()
	f.Sent()
	f.Allowed()
	f.Denied()
	t0 := time.Unix(100, 0)
	f.Disrupted(t0)
	f.Disrupted(t0.Add(time.Second)) // the same disruption
	f.Served(t0.Add(3 * time.Second))
	f.Served(t0.Add(9 * time.Second)) // nothing open
	f.Disruption(2 * time.Second)     // shorter than the measured one
	want := "FAULTS scenario=x sent=2 allowed=1 denied=1 lost=0 longest_disruption=3s"
	if got := f.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestParseScale(t *testing.T) {
	for in, full := range map[string]bool{"short": false, "full": true} {
		s, err := ParseScale(in)
		if err != nil || s.Full != full || s.String() != in || Pick(s, 1, 2) != map[bool]int{false: 1, true: 2}[full] {
			t.Errorf("ParseScale(%q) = %+v, %v", in, s, err)
		}
	}
	if _, err := ParseScale("long"); err == nil {
		t.Error("ParseScale accepted long")
	}
}

func TestPaceHoldsTheRate(t *testing.T) {
	var n atomic.Int64
	calls, rate := Pace(context.Background(), 200, 4, 500*time.Millisecond, func(int64) { n.Add(1) })
	if calls != n.Load() || calls < 50 || calls > 110 || rate > 220 {
		t.Errorf("Pace at 200/s for 0.5s: %d calls, %.0f/s", calls, rate)
	}
}

func TestReadRSS(t *testing.T) {
	rss, err := ReadRSS(os.Getpid())
	if err != nil || rss <= 0 {
		t.Fatalf("ReadRSS = %d, %v", rss, err)
	}
}

func TestModuleRoot(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(root + "/go.mod"); err != nil || !strings.Contains(string(b), "module github.com/stellaops/authgate") {
		t.Errorf("module root %s: %v", root, err)
	}
}
