package app

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/dpop"
)

// TestTwoAuthorizationHeadersOnTheWire sends raw HTTP/1.1 requests to a
// running flex-auth: a valid DPoP token and proof are accepted, but not
// beside a second Authorization header, whatever the case of either
// header name (HTTP field names are case-insensitive, and both are the
// same field).
func TestTwoAuthorizationHeadersOnTheWire(t *testing.T) {
	auth := newFakeAuthority(t)
	publicURL := "https://flex-auth.example.com"
	in := start(t, "--config", writeAuthConfig(t, auth.srv.URL, publicURL))
	client := newKey(t, "client")
	jkt, err := dpop.Thumbprint(client)
	if err != nil {
		t.Fatal(err)
	}
	tok := auth.token(t, "flex-auth.check", map[string]any{"jkt": jkt})
	other := auth.token(t, "flex-auth.check", map[string]any{"jkt": jkt})
	body := `{"actor":"agt-state-hub-bridge"}`
	send := func(headers ...string) int {
		t.Helper()
		proof, err := dpop.NewProof(client, "ES256", "POST", publicURL+"/v1/check", tok, "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		conn, err := net.Dial("tcp", strings.TrimPrefix(in.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		raw := "POST /v1/check HTTP/1.1\r\nHost: flex-auth.example.com\r\nContent-Type: application/json\r\n" +
			"Content-Length: " + strconv.Itoa(len(body)) + "\r\nDPoP: " + proof + "\r\nConnection: close\r\n" +
			strings.Join(headers, "\r\n") + "\r\n\r\n" + body
		if _, err := conn.Write([]byte(raw)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send("Authorization: DPoP " + tok); code != http.StatusOK {
		t.Fatalf("one Authorization header: %d", code)
	}
	for name, headers := range map[string][]string{
		"same case":             {"Authorization: DPoP " + tok, "Authorization: Bearer " + other},
		"lower case second":     {"Authorization: DPoP " + tok, "authorization: Bearer " + other},
		"upper case first":      {"AUTHORIZATION: DPoP " + tok, "Authorization: DPoP " + other},
		"mixed case both":       {"aUtHoRiZaTiOn: DPoP " + tok, "authorization: DPoP " + tok},
		"empty second":          {"Authorization: DPoP " + tok, "authorization:"},
		"second before the one": {"authorization: Basic dTpw", "Authorization: DPoP " + tok},
	} {
		if code := send(headers...); code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, code)
		}
	}
}
