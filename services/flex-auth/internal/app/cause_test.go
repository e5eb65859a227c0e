package app

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
)

// TestRefusalCauseIsLogged (finding: a refused token was logged only as
// "error: invalid_token", so a wrong auth.audiences looked like a bad
// signature): the request line of each refusal carries why in the field
// cause, at info, and no log line holds the token.
func TestRefusalCauseIsLogged(t *testing.T) {
	auth := authoritytest.New(t)
	publicURL := "https://flex-auth.example.com"
	in := start(t, "--config", writeAuthConfig(t, auth.Issuer, publicURL))
	client := authoritytest.NewKey(t)
	jkt, err := dpop.Thumbprint(client)
	if err != nil {
		t.Fatal(err)
	}
	mint := func(edit func(map[string]any)) string {
		c := auth.Claims("ops-warden", time.Now())
		c["aud"], c["scope"], c["cnf"] = "flex-auth", "flex-auth.check", map[string]any{"jkt": jkt}
		if edit != nil {
			edit(c)
		}
		return auth.Mint(t, c)
	}
	valid := auth.Claims("ops-warden", time.Now())
	valid["aud"], valid["scope"], valid["cnf"] = "flex-auth", "flex-auth.check", map[string]any{"jkt": jkt}
	sameKid := authoritytest.NewKey(t) // the Authority's kid, another key
	_ = sameKid.Set(jwk.KeyIDKey, auth.Current().KeyID())
	cases := []struct {
		name, token, cause string
	}{
		{"wrong audience", mint(func(c map[string]any) { c["aud"] = "https://other.example" }), "audience not accepted"},
		{"wrong issuer", mint(func(c map[string]any) { c["iss"] = "https://evil.example" }), "issuer not accepted"},
		{"expired", mint(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), "token expired"},
		{"not yet valid", mint(func(c map[string]any) { c["nbf"] = time.Now().Add(time.Hour).Unix() }), "not yet valid"},
		{"missing scope", mint(func(c map[string]any) { c["scope"] = "other" }), "scope flex-auth.check missing"},
		{"algorithm not allowed", authoritytest.Sign(t, []byte(strings.Repeat("s", 32)), jwa.HS256, valid), `algorithm not allowed: "HS256"`},
		{"unknown kid", authoritytest.Sign(t, authoritytest.NewKey(t), jwa.ES256, valid), "unknown key"},
		{"signature", authoritytest.Sign(t, sameKid, jwa.ES256, valid), "signature invalid"},
		{"sender constraint", mint(func(c map[string]any) { c["cnf"] = map[string]any{"jkt": strings.Repeat("A", 43)} }), "Invalid DPoP key binding"},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(http.MethodPost, in.url+"/v1/check", strings.NewReader(`{"actor":"agt-state-hub-bridge"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "DPoP "+tc.token)
		proof, err := dpop.NewProof(client, "ES256", http.MethodPost, publicURL+"/v1/check", tc.token, "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("DPoP", proof)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s: status %d", tc.name, resp.StatusCode)
		}
	}
	// The request line follows the answer: poll until every refusal is in.
	var causes []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		causes = refusalCauses(t, in.stderr.String())
		if len(causes) >= len(cases) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, tc := range cases {
		found := false
		for _, c := range causes {
			found = found || strings.Contains(c, tc.cause)
		}
		if !found {
			t.Errorf("%s: no request line with a cause naming %q; causes: %q", tc.name, tc.cause, causes)
		}
		if sig := tc.token[strings.LastIndex(tc.token, ".")+1:]; strings.Contains(in.stderr.String(), sig) {
			t.Errorf("%s: the log holds the token", tc.name)
		}
	}
}

// refusalCauses returns the cause of each info request line of a 401 or
// 403 in the JSON log.
func refusalCauses(t *testing.T, log string) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		var l struct {
			Level  string `json:"level"`
			Msg    string `json:"msg"`
			Status int    `json:"status"`
			Cause  string `json:"cause"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Msg != "request" || (l.Status != 401 && l.Status != 403) {
			continue
		}
		if l.Level != "info" {
			t.Errorf("refusal logged at %s, want info", l.Level)
		}
		out = append(out, l.Cause)
	}
	return out
}
