package app

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

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

func TestSmokeOverHTTPSWithCAFile(t *testing.T) {
	ca := newTestCA(t, "ca")
	in := startTLS(t, ca, "")
	client, err := smoke.NewClient(5*time.Second, ca.file)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := smoke.Run(context.Background(), smoke.Options{URL: in.url, Actor: "agt-state-hub-bridge", Client: client, Out: &out}); err != nil {
		t.Fatalf("smoke over https with the server's CA: %v\n%s", err, out.String())
	}
	// Without the CA (system roots), or with another CA, the certificate is not trusted.
	for name, caFile := range map[string]string{"system roots": "", "another CA": newTestCA(t, "other").file} {
		client, err := smoke.NewClient(5*time.Second, caFile)
		if err != nil {
			t.Fatal(err)
		}
		err = smoke.Run(context.Background(), smoke.Options{URL: in.url, Actor: "agt-state-hub-bridge", Client: client, Out: &strings.Builder{}})
		if !errors.Is(err, smoke.ErrSurprise) || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("%s: %v, want a certificate verification failure", name, err)
		}
	}
	for name, tc := range map[string]struct{ file, want string }{
		"missing": {filepath.Join(t.TempDir(), "absent.pem"), "--ca-file: open"},
		"not PEM": {in.logFile, "--ca-file: no PEM certificates"},
	} {
		if _, err := smoke.NewClient(time.Second, tc.file); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: %v, want %q", name, err, tc.want)
		}
	}
}
