package faults

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/proctest"
)

// TestSoak drives registry-token at half the throughput measured in a
// short calibration burst on this machine, for 60 s at full scale (a few
// seconds in CI), and compares its RSS and goroutines at the start and
// the end of the steady state: they must not grow beyond noise.
func TestSoak(t *testing.T) {
	fig := proctest.NewFigures("soak-registry-token")
	auth := startAuthority(t)
	// The in-memory replay cache holds every proof for maxAge + clockSkew:
	// its working set grows for that long before it is steady (at the
	// default 65 s and 3000 tokens/s, about 200,000 entries and 35 MiB).
	// A short window lets the steady state start within the warm-up.
	window := 4 * time.Second
	rt := startRegistryToken(t, "registry-token", writeConfig(t, t.TempDir(), auth, rtConfig{Edit: func(doc map[string]any) {
		doc["authority"].(map[string]any)["dpop"] = map[string]any{"maxAge": "3s", "clockSkew": "1s", "algorithms": []string{"ES256"}}
	}}), "", "")
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
	duration := proctest.Pick(scale, 8*time.Second, 60*time.Second)
	// Steady state: the start figures are taken after a tenth of the run,
	// and not before the replay window has filled.
	proctest.Soak{Workers: workers, Bench: proctest.Pick(scale, 2*time.Second, 5*time.Second),
		Duration: duration, Warm: max(duration/10, window+time.Second), Unit: "tokens"}.Run(t, rt, fig, do)
}
