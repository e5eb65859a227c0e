package faults

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/httpx"
	"github.com/stellaops/authgate/pkg/testkit/proctest"
)

// TestHostileHTTP is scenario 8 for registry-token: oversized headers and
// bodies, slow headers, 10,000 scope parameters, deeply nested JSON in
// the proof and the OpTok, invalid UTF-8 and CR LF in scopes each get a
// 4xx in bounded time, no header can be injected, and the server's
// memory stays bounded.
func TestHostileHTTP(t *testing.T) {
	fig := proctest.NewFigures("8-registry-token")
	auth := startAuthority(t)
	rt := startRegistryToken(t, "registry-token", writeConfig(t, t.TempDir(), auth, rtConfig{}), "", "")
	realm := rt.URL + "/token"
	c := newCaller(t, auth.Authority, realm)
	ctx := context.Background()
	before, err := rt.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}

	get := func(query, extra string) string {
		return fmt.Sprintf("GET /token?%s HTTP/1.1\r\nHost: %s\r\n%sConnection: close\r\n\r\n", query, rt.Addr, extra)
	}
	withScopes := func(scopes ...string) string {
		q := url.Values{"service": {service}, "scope": scopes}
		return q.Encode()
	}
	auth401 := func() string { return "Authorization: DPoP " + c.tok + "\r\nDPoP: " + c.proof(t) + "\r\n" }
	many := func(n int, sep string) []string {
		s := make([]string, n)
		for i := range s {
			s[i] = fmt.Sprintf("repository:stella-ops/public/r%d:pull", i)
		}
		if sep != "" {
			return []string{strings.Join(s, sep)}
		}
		return s
	}
	b64 := base64.RawURLEncoding.EncodeToString
	nestedProof := b64([]byte(`{"typ":"dpop+jwt","alg":"ES256","jwk":`+strings.Repeat("[", 6000)+strings.Repeat("]", 6000)+`}`)) + "." + b64([]byte(`{}`)) + ".c2ln"
	nestedTok := b64([]byte(`{"alg":"ES256","kid":`+strings.Repeat("{\"a\":", 2000)+"1"+strings.Repeat("}", 2000)+`}`)) + "." + b64([]byte(`{}`)) + ".c2ln"

	cases := []proctest.HostileCase{
		{Name: "header of 1 MiB", Head: get(withScopes(scopePull), "X-Big: "+strings.Repeat("a", 1<<20)+"\r\n"), Check: code(431, "")},
		{Name: "10000 headers", Head: get(withScopes(scopePull), strings.Repeat("X-Many: a\r\n", 10_000)), Check: code(431, "")},
		{Name: "GET with a 64 MiB body", Head: fmt.Sprintf("GET /token?%s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", withScopes(scopePull), rt.Addr, 64<<20),
			Body: func() io.Reader { return io.LimitReader(proctest.Repeat('a'), 64<<20) }, Check: code(401, "invalid_request")},
		{Name: "POST with a 64 MiB body", Head: fmt.Sprintf("POST /token HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n", rt.Addr, 64<<20),
			Body: func() io.Reader { return io.LimitReader(proctest.Repeat('a'), 64<<20) }, Check: code(400, "invalid_request")},
		{Name: "10000 scope parameters", Head: get(withScopes(many(10_000, "")...), auth401()), Check: code(431, "")},
		{Name: "10000 scopes in one parameter", Head: get(withScopes(many(10_000, " ")...), auth401()), Check: code(431, "")},
		{Name: "101 scope parameters", Head: get(withScopes(many(101, "")...), auth401()), Check: code(400, "invalid_scope")},
		{Name: "101 scopes in one parameter", Head: get(withScopes(many(101, " ")...), auth401()), Check: code(400, "invalid_scope")},
		{Name: "proof header nested 6000 deep", Head: get(withScopes(scopePull), "Authorization: DPoP "+c.tok+"\r\nDPoP: "+nestedProof+"\r\n"), Check: code(401, "invalid_dpop_proof")},
		{Name: "OpTok header nested 2000 deep", Head: get(withScopes(scopePull), "Authorization: DPoP "+nestedTok+"\r\nDPoP: "+c.proof(t)+"\r\n"), Check: code(401, "invalid_token")},
		{Name: "invalid UTF-8 in scope", Head: get("service="+service+"&scope=repository:stella-ops/%FF%FE:pull", auth401()), Check: code(400, "invalid_scope")},
		{Name: "invalid UTF-8 in service", Head: get("service=%FF%FE&scope="+scopePull, auth401()), Check: code(400, "invalid_request")},
		{Name: "invalid UTF-8 in Authorization", Head: get(withScopes(scopePull), "Authorization: DPoP \xff\xfe\xfd\r\nDPoP: "+c.proof(t)+"\r\n"), Check: code(401, "invalid_token")},
		{Name: "CR LF in scope", Head: get("service="+service+"&scope=repository:stella-ops/public/base:pull%0D%0AX-Injected:%20yes", auth401()), Check: code(400, "invalid_scope")},
		{Name: "CR LF in service", Head: get("service=x%0D%0AX-Injected:%20yes&scope="+scopePull, auth401()), Check: code(400, "invalid_request")},
		{Name: "CR LF in the path", Head: fmt.Sprintf("GET /token%%0D%%0AX-Injected:%%20yes HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", rt.Addr), Check: code(404, "")},
		{Name: "proof for another URL (challenge with a description)", Head: get(withScopes(scopePull), "Authorization: DPoP "+c.tok+"\r\nDPoP: "+newCaller(t, auth.Authority, "http://evil.example/token%0D%0AX-Injected").proof(t)+"\r\n"),
			Check: code(401, "invalid_dpop_proof")},
	}
	proctest.RunHostile(t, fig, rt.Addr, 30*time.Second, cases)

	// All at once, while slow-header connections are held; a legitimate
	// request still gets its token.
	cut := httpx.DefaultLimits.ReadHeaderTimeout + 2*time.Second
	client := newClient(1)
	defer client.CloseIdleConnections()
	held := proctest.RunHostileLoad(t, fig, rt.Addr, "/healthz", proctest.Pick(scale, 2, 10), proctest.Pick(scale, 100, 500), cut, cases, func() {
		if an := requestToken(ctx, client, rt.URL, c, c.proof(t)); an.Status != http.StatusOK {
			t.Errorf("legitimate request during the hostile load: %d %s %v", an.Status, an.Code, an.Err)
		}
	})

	after, err := rt.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.RSS > before.RSS+64<<20 {
		t.Errorf("RSS grew from %s to %s", before, after)
	}
	t.Logf("slow headers cut after at most %s; before %s, after %s", held.Round(time.Millisecond), before, after)
	fig.Log(t)
}

// code checks the status and, when not empty, the problem's error code
// and that no challenge carries a line break.
func code(status int, errCode string) func(proctest.RawResponse) error {
	return func(r proctest.RawResponse) error {
		if r.Status != status {
			return fmt.Errorf("status %d, want %d: %.200s", r.Status, status, bytes.TrimSpace(r.Body))
		}
		if errCode != "" && !bytes.Contains(r.Body, []byte(`"error":"`+errCode+`"`)) {
			return fmt.Errorf("error code is not %s: %.200s", errCode, r.Body)
		}
		for _, v := range r.Header.Values("WWW-Authenticate") {
			if strings.ContainsAny(v, "\r\n") {
				return fmt.Errorf("line break in WWW-Authenticate %q", v)
			}
		}
		return nil
	}
}
