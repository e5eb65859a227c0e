package faults

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/proctest"
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
	proctest.Soak{Workers: 16, Bench: proctest.Pick(scale, 2*time.Second, 5*time.Second),
		Duration: proctest.Pick(scale, 6*time.Second, 60*time.Second), Unit: "checks"}.Run(t, fa.Proc, fig, do)
}
