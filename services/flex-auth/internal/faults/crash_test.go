package faults

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/proctest"
)

// TestKillUnderLoad is scenario 4: flex-auth is killed with SIGKILL while
// clients send checks, a torn final line is left in the decision log (as
// a crash in the middle of a write would), and the service is started
// again on the same port and log. Every decision id any client received
// must be in the log, and the log must be valid JSON lines.
func TestKillUnderLoad(t *testing.T) {
	fig := proctest.NewFigures("4")
	fa := startFlexAuth(t, "")

	var (
		mu       sync.Mutex
		received = map[string]string{} // decision id -> effect
		killedAt time.Time
		restart  time.Time
	)
	observe := func(i int64, a answer) {
		fig.Sent()
		switch {
		case a.Err == nil && a.Status == http.StatusOK:
			mu.Lock()
			received[a.Env.DecisionID] = a.Env.Effect
			mu.Unlock()
			if a.Env.Effect == "allow" {
				fig.Allowed()
			} else {
				fig.Denied()
			}
			fig.Served(a.At)
		case a.Err != nil:
			// No answer: the client fails closed. Only expected while the
			// service is down.
			fig.Denied()
			fig.Disrupted(a.At)
		default:
			fig.Denied()
			fig.Lost() // a status other than 200 is not expected here
			t.Errorf("request %d: status %d: %s", i, a.Status, a.Body)
		}
	}
	body := func(i int64) []byte {
		if i%4 == 3 {
			return denyBody
		}
		return allowBody
	}
	// Phases are counted in requests: kills times (step before the kill,
	// step after the restart), all within a time bound.
	step := proctest.Pick[int64](scale, 3_000, 40_000)
	kills := proctest.Pick(scale, 1, 3)
	ctx, cancel := context.WithTimeout(context.Background(), proctest.Pick(scale, 60*time.Second, 5*time.Minute))
	defer cancel()
	done := make(chan int64, 1)
	go func() {
		done <- load{URL: fa.URL, Workers: 16, Max: int64(2*kills+1) * step, Body: body, Observe: observe}.run(ctx)
	}()

	for k := range kills {
		waitSent(t, fig, int64(2*k+1)*step)
		mu.Lock()
		killedAt = time.Now()
		mu.Unlock()
		fa.Kill()
		if k == kills-1 {
			// A crash in the middle of a write leaves a line without its
			// newline; the next start must cut it.
			f, err := os.OpenFile(fa.Log, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteString(`{"time":"2030-01-01T00:00:00Z","decision_id":"decision:torn`); err != nil {
				t.Fatal(err)
			}
			_ = f.Close()
		}
		fa.StartAgain(t)
		restart = time.Now()
		waitSent(t, fig, int64(2*k+2)*step)
	}
	sent := <-done
	fa.Stop() // graceful: the last batch is on disk

	if !strings.Contains(fa.Stderr(), "torn line") {
		t.Errorf("restart did not report cutting the torn line")
	}
	logged := readLog(t, fa.Log)
	missing := 0
	for id, effect := range received {
		e, ok := logged[id]
		if !ok {
			missing++
			if missing <= 5 {
				t.Errorf("decision %s (%s) answered but not in the log", id, effect)
			}
			continue
		}
		if e.Effect != effect {
			t.Errorf("decision %s answered %s, logged %s", id, effect, e.Effect)
		}
	}
	fig.AddLost(int64(missing))
	if len(received) == 0 {
		t.Fatal("no decision received")
	}
	t.Logf("kills=%d requests=%d received=%d logged=%d last kill at %s, restarted after %s",
		kills, sent, len(received), len(logged), killedAt.Format(time.StampMilli), restart.Sub(killedAt).Round(time.Millisecond))
	fig.Log(t)
}
