package app

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
	"github.com/stellaops/authgate/pkg/testkit/proctest"
)

// TestTwoAuthorizationHeadersOnTheWire sends raw HTTP/1.1 requests to a
// running flex-auth: a valid DPoP token and proof are accepted, but not
// beside a second Authorization header, whatever the case of either
// header name (HTTP field names are case-insensitive, and both are the
// same field).
func TestTwoAuthorizationHeadersOnTheWire(t *testing.T) {
	auth := authoritytest.New(t)
	publicURL := "https://flex-auth.example.com"
	in := start(t, "--config", writeAuthConfig(t, auth.Issuer, publicURL))
	in.waitReady(t)
	client := authoritytest.NewKey(t)
	jkt, err := dpop.Thumbprint(client)
	if err != nil {
		t.Fatal(err)
	}
	tok := token(t, auth, "flex-auth.check", map[string]any{"jkt": jkt})
	other := token(t, auth, "flex-auth.check", map[string]any{"jkt": jkt})
	body := `{"actor":"agt-state-hub-bridge"}`
	send := func(headers ...string) int {
		t.Helper()
		proof, err := dpop.NewProof(client, "ES256", "POST", publicURL+"/v1/check", tok, "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		head := "POST /v1/check HTTP/1.1\r\nHost: flex-auth.example.com\r\nContent-Type: application/json\r\n" +
			"Content-Length: " + strconv.Itoa(len(body)) + "\r\nDPoP: " + proof
		return proctest.RawStatus(t, strings.TrimPrefix(in.url, "http://"), head, headers, body)
	}
	if code := send("Authorization: DPoP " + tok); code != http.StatusOK {
		t.Fatalf("one Authorization header: %d", code)
	}
	for name, headers := range proctest.TwoAuthorizationFields(tok, other) {
		if code := send(headers...); code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, code)
		}
	}
}
