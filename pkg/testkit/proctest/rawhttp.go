package proctest

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
)

// RawStatus sends one raw HTTP/1.1 request to addr, exactly as written:
// the request line and fields in head (CRLF-separated, without the blank
// line that ends them), the extra field lines, then body. It returns the
// status code. Tests use it for what net/http's client would normalise,
// such as a field sent twice under names of different case.
func RawStatus(t testing.TB, addr, head string, fields []string, body string) int {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	raw := head + "\r\nConnection: close\r\n" + strings.Join(fields, "\r\n") + "\r\n\r\n" + body
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

// TwoAuthorizationFields are the ways a second Authorization field can
// stand beside the accepted one (tok): the same name in any case, an
// empty one, or one sent first. other is a second valid token. A service
// must refuse every one of them.
func TwoAuthorizationFields(tok, other string) map[string][]string {
	return map[string][]string{
		"same case":             {"Authorization: DPoP " + tok, "Authorization: Bearer " + other},
		"lower case second":     {"Authorization: DPoP " + tok, "authorization: Bearer " + other},
		"upper case first":      {"AUTHORIZATION: DPoP " + tok, "Authorization: DPoP " + other},
		"mixed case both":       {"aUtHoRiZaTiOn: DPoP " + tok, "authorization: DPoP " + tok},
		"empty second":          {"Authorization: DPoP " + tok, "authorization:"},
		"second before the one": {"authorization: Basic dTpw", "Authorization: DPoP " + tok},
	}
}
