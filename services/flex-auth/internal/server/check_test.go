package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stellaops/authgate/services/flex-auth/internal/decisionlog"
)

func TestInvalidUTF8IsRejected(t *testing.T) {
	h := newBenchServer(t, decisionlog.SyncOff)
	for _, tc := range []struct{ route, body string }{
		{RouteCheck, "{\"actor\":\"agt-state-hub-\xff\xfe-bridge\"}"},
		{RouteAuthZEN, "{\"subject\":{\"type\":\"actor\",\"id\":\"iam:agt-\xffbridge\"},\"action\":{\"name\":\"ssh.sign\"},\"resource\":{\"type\":\"h\",\"id\":\"x\"}}"},
	} {
		t.Run(tc.route, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, tc.route, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Fatalf("content type %q", ct)
			}
			var p struct {
				Description string `json:"error_description"`
				Field       string `json:"field"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			if p.Field != "body" || !strings.Contains(p.Description, "UTF-8") {
				t.Fatalf("problem %s", rec.Body)
			}
		})
	}
}
