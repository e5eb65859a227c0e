package serve

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stellaops/authgate/services/flex-auth/internal/smoke"
)

func TestSmokeAgainstTheService(t *testing.T) {
	in := start(t)
	var out strings.Builder
	err := smoke.Run(context.Background(), smoke.Options{URL: in.url, Actor: "agt-state-hub-bridge", Client: http.DefaultClient, Out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []*regexp.Regexp{
		regexp.MustCompile(`^healthz: HTTP 200 status=ok$`),
		regexp.MustCompile(`^allow: actor=agt-state-hub-bridge decision_id=decision:[0-9a-f]{16} effect=allow reason=signing_policy_matched backend=flex-auth$`),
		regexp.MustCompile(`^deny: actor=agt-state-hub-bridge decision_id=decision:[0-9a-f]{16} effect=deny reason=ttl_out_of_bounds backend=flex-auth$`),
	}
	if len(lines) != len(want) {
		t.Fatalf("output:\n%s", out.String())
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Fatalf("line %d = %q, want %s", i+1, lines[i], re)
		}
	}
	logged := logLines(t, in.logFile)
	for _, l := range lines[1:] {
		id := regexp.MustCompile(`decision:[0-9a-f]{16}`).FindString(l)
		if _, ok := logged[id]; !ok {
			t.Fatalf("smoke decision %s not in the log", id)
		}
	}

	// Surprises fail: an unknown actor is not allowed.
	err = smoke.Run(context.Background(), smoke.Options{URL: in.url, Actor: "agt-nobody", Client: http.DefaultClient, Out: &out})
	if !errors.Is(err, smoke.ErrSurprise) || !strings.Contains(err.Error(), "unknown_actor_resource") {
		t.Fatalf("unknown actor: %v", err)
	}
}

func TestSmokeFailsOnUnhealthyOrForeignService(t *testing.T) {
	for _, h := range []http.HandlerFunc{
		func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) },
		func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`<html>hello</html>`)) },
	} {
		srv := httptest.NewServer(h)
		err := smoke.Run(context.Background(), smoke.Options{URL: srv.URL, Actor: "agt-state-hub-bridge", Client: srv.Client(), Out: &strings.Builder{}})
		srv.Close()
		if !errors.Is(err, smoke.ErrSurprise) {
			t.Fatalf("err = %v", err)
		}
	}
}
