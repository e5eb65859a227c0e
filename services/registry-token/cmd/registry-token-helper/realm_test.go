package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stellaops/authgate/services/registry-token/internal/dpopclient"
)

func noEnv(string) string { return "" }

// TestRealmConfusionIsRefused: a registry (a typo, someone else's host)
// whose challenge names a realm the user does not trust gets no OpTok
// sent anywhere; the error names the challenged and the trusted realms.
// The realm the user trusts, by --realm or the environment list, is used.
func TestRealmConfusionIsRefused(t *testing.T) {
	var realmCalls atomic.Int64
	realm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		realmCalls.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{"token": "h.p.s", "expires_in": 300})
	}))
	defer realm.Close()
	realmURL := realm.URL + "/token"
	// The registry names the real registry-token as its realm.
	registry := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+realmURL+`",service="registry.example.com"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer registry.Close()

	dir := t.TempDir()
	key, err := dpopclient.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	keyJSON, _ := json.Marshal(key.Key)
	keyFile, optok := filepath.Join(dir, "dpop.jwk"), filepath.Join(dir, "optok.jwt")
	if os.WriteFile(keyFile, keyJSON, 0o600) != nil || os.WriteFile(optok, []byte("o.p.t"), 0o600) != nil {
		t.Fatal("writing the credentials")
	}
	base := []string{"--registry", strings.TrimPrefix(registry.URL, "http://"), "--plain-http",
		"--optok-file", optok, "--dpop-key", keyFile, "--scope", "repository:a/b:pull"}
	env := func(list string) func(string) string {
		return func(name string) string {
			if name == RealmsEnv {
				return list
			}
			return ""
		}
	}
	const other = "https://registry-token.example.com/token"
	for _, tc := range []struct {
		name   string
		extra  []string
		getenv func(string) string
		usage  bool
		want   []string // in the error; none: success
	}{
		{name: "no trusted realm", getenv: noEnv, usage: true,
			want: []string{`names realm "` + realmURL + `"`, "no realm is trusted", "--realm " + realmURL, RealmsEnv}},
		{name: "another realm trusted by --realm", extra: []string{"--realm", other}, getenv: noEnv,
			want: []string{`names realm "` + realmURL + `"`, "not a trusted realm (" + other + ")"}},
		{name: "another realm trusted by the environment", getenv: env(other + " https://rt2.example.com/token"),
			want: []string{`names realm "` + realmURL + `"`, other + ", https://rt2.example.com/token"}},
		{name: "same host, other path", extra: []string{"--realm", realm.URL + "/token2"}, getenv: noEnv,
			want: []string{`names realm "` + realmURL + `"`}},
		{name: "same path, https", extra: []string{"--realm", strings.Replace(realmURL, "http:", "https:", 1)}, getenv: noEnv,
			want: []string{`names realm "` + realmURL + `"`}},
		{name: "--realm overrides the environment", extra: []string{"--realm", other}, getenv: env(realmURL),
			want: []string{"not a trusted realm (" + other + ")"}},
		{name: "a trusted realm that is no URL", extra: []string{"--realm", "registry-token/token"}, getenv: noEnv, usage: true,
			want: []string{`realm "registry-token/token" is not an absolute http(s) URL`}},
		{name: "trusted by --realm", extra: []string{"--realm", realmURL}, getenv: noEnv},
		{name: "trusted among several", extra: []string{"--realm", other, "--realm", strings.ToUpper(realm.URL[:7]) + realm.URL[7:] + "/token"}, getenv: noEnv},
		{name: "trusted by the environment", getenv: env(other + " " + realmURL)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := realmCalls.Load()
			var stdout, stderr strings.Builder
			err := run(context.Background(), append(append([]string{}, base...), tc.extra...), tc.getenv, strings.NewReader(""), &stdout, &stderr)
			calls := realmCalls.Load() - before
			if len(tc.want) == 0 {
				if err != nil || calls != 1 || strings.TrimSpace(stdout.String()) != "h.p.s" {
					t.Fatalf("error %v, %d realm calls, output %q", err, calls, stdout.String())
				}
				return
			}
			if err == nil || errors.Is(err, errUsage) != tc.usage {
				t.Fatalf("error %v, want one (usage %v)", err, tc.usage)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if calls != 0 {
				t.Fatalf("the realm was asked %d times", calls)
			}
		})
	}
}

func TestSameRealm(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"https://rt.example.com/token", "https://rt.example.com/token", true},
		{"https://rt.example.com/token", "HTTPS://RT.example.COM/token", true},
		{"https://rt.example.com/token", "https://rt.example.com:443/token", true},
		{"http://rt.example.com/token", "http://rt.example.com:80/token", true},
		{"https://rt.example.com/token?tenant=a", "https://rt.example.com/token?tenant=a", true},
		{"https://rt.example.com/token", "http://rt.example.com/token", false},
		{"https://rt.example.com/token", "https://rt.example.com:8443/token", false},
		{"https://rt.example.com/token", "https://rt.example.com/Token", false},
		{"https://rt.example.com/token", "https://rt.example.com/token/", false},
		{"https://rt.example.com/token", "https://rt.example.com.evil.example/token", false},
		{"https://rt.example.com/token", "https://rt.example.com/token?tenant=b", false},
		{"http://rt.example.com:443/token", "http://rt.example.com/token", false},
	} {
		a, err := parseRealm(tc.a)
		if err != nil {
			t.Fatal(err)
		}
		b, err := parseRealm(tc.b)
		if err != nil {
			t.Fatal(err)
		}
		if got := sameRealm(a, b); got != tc.same {
			t.Errorf("sameRealm(%s, %s) = %v", tc.a, tc.b, got)
		}
	}
}

func TestParseRealmRefusesGarbage(t *testing.T) {
	for in, want := range map[string]string{
		"":                                  "not an absolute http(s) URL",
		"registry-token/token":              "not an absolute http(s) URL",
		"ftp://rt.example.com/token":        "not an absolute http(s) URL",
		"https://":                          "not an absolute http(s) URL",
		"https://:443/token":                "not an absolute http(s) URL",
		"https:rt.example.com/token":        "not an absolute http(s) URL",
		"https://u:p@rt.example.com/token":  "carries user information",
		"https://rt.example.com/token#x":    "carries a fragment",
		"https://rt.example.com/token#":     "carries a fragment",
		"https://rt.example.com/%zz":        "is not a URL",
		"https://rt.example.com/token\x7f":  "is not a URL",
		"https://rt.example.com:port/token": "is not a URL",
	} {
		if _, err := parseRealm(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseRealm(%q) = %v, want %q", in, err, want)
		}
	}
}

func FuzzParseRealm(f *testing.F) {
	for _, s := range []string{"https://rt.example.com/token", "http://127.0.0.1:8085/token?x=1", "https://u@h/t#f", "//h/t", "https://[::1]:443/token"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseRealm(s)
		if err != nil {
			return
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil || u.Fragment != "" {
			t.Fatalf("accepted %q as %#v", s, u)
		}
		if !sameRealm(u, u) {
			t.Fatalf("%q is not the same realm as itself", s)
		}
	})
}
