package faults

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/proctest"
)

// TestSoak drives registry-token at half the throughput measured in a
// short calibration burst on this machine, for 60 s at full scale (a few
// seconds in CI), and compares its RSS and goroutines at the start and
// the end of the steady state: they must not grow beyond noise.
func TestSoak(t *testing.T) {
	fig := proctest.NewFigures("soak-registry-token")
	auth := startAuthority(t)
	rt := startRegistryToken(t, "registry-token", writeConfig(t, t.TempDir(), auth, rtConfig{}), "", "")
	realm := rt.URL + "/token"
	const workers = 16
	callers := make([]*caller, workers)
	for i := range callers {
		callers[i] = newCaller(t, auth.Authority, realm)
	}
	client := newClient(workers)
	defer client.CloseIdleConnections()
	ctx := context.Background()
	do := func(i int64) {
		c := callers[i%workers]
		an := requestToken(ctx, client, rt.URL, c, c.proof(t))
		fig.Sent()
		if an.Err == nil && an.Status == http.StatusOK && an.Token != "" {
			fig.Allowed()
			return
		}
		fig.Denied()
		fig.Lost()
		t.Errorf("soak request %d: status %d %s err %v", i, an.Status, an.Code, an.Err)
	}
	_, bench := proctest.Pace(ctx, 0, workers, proctest.Pick(scale, 2*time.Second, 5*time.Second), do)
	rate := bench / 2
	duration := proctest.Pick(scale, 6*time.Second, 60*time.Second)

	// Steady state: the start figures are taken after a tenth of the run.
	proctest.Pace(ctx, rate, workers, duration/10, do)
	start, err := rt.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	proctest.Pace(ctx, rate, workers, duration-duration/10, do)
	end, err := rt.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sent, _, _, _ := fig.Counts()
	t.Logf("benchmark %.0f tokens/s, soak at %.0f/s for %s (%d requests); start %s, end %s", bench, rate, duration, sent, start, end)
	proctest.CheckGrowth(t, start, end)
	fig.Log(t)
}
