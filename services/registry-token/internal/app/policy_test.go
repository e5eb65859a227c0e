package app_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
	"github.com/stellaops/authgate/services/registry-token/internal/token"
)

// With the policy section pointing at a port nothing listens on, a token
// request is refused with the 503 the spec describes.
func TestPolicyOutageResponseMatchesOpenAPI(t *testing.T) {
	s := loadSpec(t)
	a := authoritytest.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	base := startWith(t, a, fmt.Sprintf("policy: {url: %q, timeout: 1s, failClosed: true}\n", down))

	resp := pullResponse(t, a, base)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	s.check(t, http.MethodGet, "/token", resp, body)
}

// The spec's reason enum is the service's fixed reason catalog.
func TestSpecListsEveryReason(t *testing.T) {
	s := loadSpec(t)
	enum, _ := dig(s.doc, "components", "schemas", "Problem", "properties", "reason", "enum").([]any)
	var want []any
	for _, r := range token.Reasons() {
		want = append(want, string(r))
	}
	if fmt.Sprint(enum) != fmt.Sprint(want) {
		t.Fatalf("spec reasons %v\nservice reasons %v", enum, want)
	}
	// A problem with a reason outside the catalog does not validate.
	sch, err := s.compiler.Compile("file:///spec.json#/components/schemas/Problem")
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]any{"type": "about:blank", "title": "x", "status": 503.0, "error": "temporarily_unavailable",
		"reason": "flex_auth_sad", "errors": []any{map[string]any{"code": "X", "message": "x"}}}
	if err := sch.Validate(bad); err == nil {
		t.Fatal("unknown reason validated")
	}
}
