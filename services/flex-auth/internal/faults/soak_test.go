package faults

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/proctest"
)

// TestSoak drives flex-auth at half the throughput measured in a short
// calibration burst on this machine, for 60 s at full scale (a few
// seconds in CI), and compares its RSS and goroutines at the start and
// the end of the steady state: they must not grow beyond noise.
func TestSoak(t *testing.T) {
	fig := proctest.NewFigures("soak-flex-auth")
	fa := startFlexAuth(t, "")
	client := newClient(16)
	defer client.CloseIdleConnections()
	ctx := context.Background()
	do := func(i int64) {
		body := allowBody
		if i%4 == 3 {
			body = denyBody
		}
		a := check(ctx, client, fa.URL, body)
		fig.Sent()
		switch {
		case a.Err == nil && a.Status == http.StatusOK && a.Env.Effect == "allow":
			fig.Allowed()
		case a.Err == nil && a.Status == http.StatusOK:
			fig.Denied()
		default:
			fig.Lost()
			t.Errorf("soak request %d: status %d err %v", i, a.Status, a.Err)
		}
	}
	_, bench := proctest.Pace(ctx, 0, 16, proctest.Pick(scale, 2*time.Second, 5*time.Second), do)
	rate := bench / 2
	duration := proctest.Pick(scale, 6*time.Second, 60*time.Second)

	// Steady state: the start figures are taken after a tenth of the run.
	proctest.Pace(ctx, rate, 16, duration/10, do)
	start, err := fa.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	proctest.Pace(ctx, rate, 16, duration-duration/10, do)
	end, err := fa.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sent, _, _, _ := fig.Counts()
	t.Logf("benchmark %.0f checks/s, soak at %.0f/s for %s (%d requests); start %s, end %s", bench, rate, duration, sent, start, end)
	proctest.CheckGrowth(t, start, end)
	fig.Log(t)
}
