package app

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/authgate/pkg/testkit/certtest"
)

// TestAuthConfigValidation: each way to get the caller-authentication
// section wrong is reported by name at start.
func TestAuthConfigValidation(t *testing.T) {
	dir := t.TempDir()
	c := certtest.SelfSigned(t, "flex-auth", 1)
	crt, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	c.WriteFiles(t, crt, key)
	base := []string{"--registry", "r.json", "--policy", "p.md", "--log", "d.jsonl"}
	issuer := []string{"FLEX_AUTH_AUTH__ISSUER=https://authority.example.com",
		"FLEX_AUTH_AUTH__METADATAURL=https://authority.example.com/.well-known/openid-configuration",
		"FLEX_AUTH_AUTH__AUDIENCES=flex-auth", "FLEX_AUTH_AUTH__PUBLICURL=https://flex-auth.example.com"}
	tlsCA := []string{"FLEX_AUTH_SERVER__TLS__CERTFILE=" + crt, "FLEX_AUTH_SERVER__TLS__KEYFILE=" + key,
		"FLEX_AUTH_SERVER__TLS__CLIENTCAFILE=" + crt}
	with := func(lists ...[]string) []string {
		var out []string
		for _, l := range lists {
			out = append(out, l...)
		}
		return out
	}
	cases := []struct {
		name    string
		env     []string
		problem string // "" accepts
	}{
		{"issuer, memory replay cache", issuer, ""},
		{"issuer, redis replay cache", with(issuer, []string{"FLEX_AUTH_AUTH__REPLAYCACHE__BACKEND=redis", "FLEX_AUTH_AUTH__REPLAYCACHE__REDISURL=redis://127.0.0.1:6379/0"}), ""},
		{"certificate callers only", with(tlsCA, []string{"FLEX_AUTH_AUTH__CLIENTCERTIFICATES=CN=registry-token"}), ""},
		{"unknown replay backend", with(issuer, []string{"FLEX_AUTH_AUTH__REPLAYCACHE__BACKEND=disk"}), "auth.replayCache.backend"},
		{"redis without a URL", with(issuer, []string{"FLEX_AUTH_AUTH__REPLAYCACHE__BACKEND=redis"}), "auth.replayCache.redisUrl: required when backend is redis"},
		{"redis URL not redis", with(issuer, []string{"FLEX_AUTH_AUTH__REPLAYCACHE__BACKEND=redis", "FLEX_AUTH_AUTH__REPLAYCACHE__REDISURL=http://x"}), "auth.replayCache.redisUrl"},
		{"redis URL with the memory backend", with(issuer, []string{"FLEX_AUTH_AUTH__REPLAYCACHE__REDISURL=redis://x:6379"}), "backend is memory"},
		{"refresh interval under 1s", with(issuer, []string{"FLEX_AUTH_AUTH__JWKSREFRESHINTERVAL=10ms"}), "auth.jwksRefreshInterval"},
		{"max stale not above the interval", with(issuer, []string{"FLEX_AUTH_AUTH__JWKSMAXSTALE=10m"}), "auth.jwksMaxStale"},
		{"certificate callers without a client CA", []string{"FLEX_AUTH_AUTH__CLIENTCERTIFICATES=CN=registry-token"}, "requires server.tls.clientCaFile"},
		{"public URL over http", with(issuer, []string{"FLEX_AUTH_AUTH__PUBLICURL=http://127.0.0.1:8080/pdp"}), ""},
		{"public URL without auth", []string{"FLEX_AUTH_AUTH__PUBLICURL=https://flex-auth.example.com/base/"}, ""},
		{"public URL relative", with(issuer, []string{"FLEX_AUTH_AUTH__PUBLICURL=/pdp"}), "auth.publicUrl: \"/pdp\" is not an absolute http(s) URL"},
		{"public URL without a host", with(issuer, []string{"FLEX_AUTH_AUTH__PUBLICURL=https:///pdp"}), "is not an absolute http(s) URL"},
		{"public URL of another scheme", with(issuer, []string{"FLEX_AUTH_AUTH__PUBLICURL=ftp://flex-auth.example.com"}), "is not an absolute http(s) URL"},
		{"public URL with a query", with(issuer, []string{"FLEX_AUTH_AUTH__PUBLICURL=https://flex-auth.example.com/?a=b"}), "must not carry a query or fragment"},
		{"public URL with an empty query", with(issuer, []string{"FLEX_AUTH_AUTH__PUBLICURL=https://flex-auth.example.com/?"}), "must not carry a query or fragment"},
		{"public URL with a fragment", with(issuer, []string{"FLEX_AUTH_AUTH__PUBLICURL=https://flex-auth.example.com/#x"}), "must not carry a query or fragment"},
		{"public URL with user information", with(issuer, []string{"FLEX_AUTH_AUTH__PUBLICURL=https://u:p@flex-auth.example.com"}), "must not carry user information"},
		{"public URL unparsable, without auth", []string{"FLEX_AUTH_AUTH__PUBLICURL=https://flex auth"}, "auth.publicUrl"},
		{"certificate caller with spaces", with(tlsCA, []string{"FLEX_AUTH_AUTH__CLIENTCERTIFICATES= CN=registry-token"}), "has leading or trailing spaces"},
		{"issuer without its companions", []string{"FLEX_AUTH_AUTH__ISSUER=https://authority.example.com"}, "auth.metadataUrl is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(base, tc.env)
			switch {
			case tc.problem == "" && err != nil:
				t.Fatal(err)
			case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)):
				t.Fatalf("err = %v, want %q", err, tc.problem)
			}
		})
	}
}
