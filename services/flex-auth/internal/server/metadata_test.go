package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// metadata GETs path from remote with the headers and returns the status
// and policy_decision_point.
func metadata(t *testing.T, h http.Handler, path, remote string, header http.Header) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Host, req.RemoteAddr = "pdp.mycompany.com", remote
	for k, vs := range header {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var meta Configuration
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &meta); err != nil {
			t.Fatalf("%s: %v: %s", path, err, rec.Body)
		}
	}
	return rec.Code, meta.PolicyDecisionPoint
}

// TestMetadataIgnoresForwardedScheme (finding: without auth.publicUrl the
// metadata's scheme followed X-Forwarded-Proto from any client; echo
// believes it from loopback and private addresses, which in a cluster is
// every pod): flex-auth has no trusted proxies, so the scheme is the
// connection's whatever the forwarding headers and the client's address.
func TestMetadataIgnoresForwardedScheme(t *testing.T) {
	h := newConformanceAt(t, "")
	for _, remote := range []string{"10.1.2.3:40000", "127.0.0.1:40000", "192.168.0.9:40000", "[fd00::1]:40000", "192.0.2.1:40000"} {
		for _, hdr := range []http.Header{
			{"X-Forwarded-Proto": {"https"}},
			{"X-Forwarded-Protocol": {"https"}},
			{"X-Forwarded-Ssl": {"on"}},
			{"X-Url-Scheme": {"https"}},
		} {
			if code, pdp := metadata(t, h, RouteConfiguration, remote, hdr); code != 200 || pdp != "http://pdp.mycompany.com" {
				t.Errorf("from %s with %v: %d %q, want http://pdp.mycompany.com", remote, hdr, code, pdp)
			}
		}
	}
}

// TestMetadataAtInsertedPath (finding: with auth.publicUrl
// https://pdp.example/tenant1 the metadata was only at
// /.well-known/authzen-configuration): AuthZEN 1.0 §9.2 places it at the
// identifier with the well-known string inserted between host and path,
// /.well-known/authzen-configuration/tenant1; the path without the
// suffix keeps answering, and another tenant's path is not found.
func TestMetadataAtInsertedPath(t *testing.T) {
	for _, tc := range []struct {
		publicURL, path string
		status          int
		pdp             string
	}{
		{"https://pdp.example/tenant1", "/.well-known/authzen-configuration/tenant1", 200, "https://pdp.example/tenant1"},
		{"https://pdp.example/tenant1/", "/.well-known/authzen-configuration/tenant1", 200, "https://pdp.example/tenant1"},
		{"https://pdp.example/a/b", "/.well-known/authzen-configuration/a/b", 200, "https://pdp.example/a/b"},
		{"https://pdp.example/tenant1", "/.well-known/authzen-configuration", 200, "https://pdp.example/tenant1"},
		{"https://pdp.example/tenant1", "/.well-known/authzen-configuration/tenant2", 404, ""},
		{"https://pdp.example", "/.well-known/authzen-configuration", 200, "https://pdp.example"},
		{"https://pdp.example", "/.well-known/authzen-configuration/tenant1", 404, ""},
	} {
		h := newConformanceAt(t, tc.publicURL)
		if code, pdp := metadata(t, h, tc.path, "192.0.2.1:40000", nil); code != tc.status || pdp != tc.pdp {
			t.Errorf("publicUrl %s, GET %s: %d %q, want %d %q", tc.publicURL, tc.path, code, pdp, tc.status, tc.pdp)
		}
	}
}
