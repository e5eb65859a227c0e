package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/services/registry-token/internal/devauthority"
)

// TestTokenEndpoint calls GET /token directly, as curl would.
func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	svc := e.stack.Service
	pullPublic := scopeQuery(svc, "repository:stella-ops/public/base:pull")

	t.Run("seed sample: Bearer OpTok plus DPoP proof", func(t *testing.T) {
		// curl -H "Authorization: Bearer <OpTok>" -H "DPoP: $(dpop-proof ...)" \
		//   "http://localhost:8085/token?service=registry.localhost&scope=repository:stella-ops/public/base:pull"
		k := newClientKey(t)
		tok := e.opTok(t, planCommunity, "lic-1", k)
		r := e.getToken(t, "Bearer "+tok, []string{e.proof(t, k, tok)}, pullPublic)
		wantStatus(t, r, http.StatusOK)
		for _, member := range []string{"token", "expires_in", "issued_at"} {
			if _, ok := r.Body[member]; !ok {
				t.Errorf("response has no %q: %s", member, r.Raw)
			}
		}
		if s, _ := r.Body["issued_at"].(string); s != "" {
			if _, err := time.Parse(time.RFC3339, s); err != nil {
				t.Errorf("issued_at %q is not RFC 3339", s)
			}
		}
		if n, _ := r.Body["expires_in"].(float64); n <= 0 {
			t.Errorf("expires_in = %v", r.Body["expires_in"])
		}
		regTok, _ := r.Body["token"].(string)
		claims := e.registryToken(t, regTok)
		access, _ := claims.PrivateClaims()["access"].([]any)
		if len(access) != 1 {
			t.Fatalf("access = %v", claims.PrivateClaims()["access"])
		}
		a, _ := access[0].(map[string]any)
		acts, _ := a["actions"].([]any)
		if a["type"] != "repository" || a["name"] != "stella-ops/public/base" || len(acts) != 1 || acts[0] != "pull" {
			t.Errorf("access[0] = %v", a)
		}
		if claims.Subject() != "user-"+planCommunity {
			t.Errorf("sub = %q", claims.Subject())
		}
	})

	t.Run("DPoP scheme", func(t *testing.T) {
		k := newClientKey(t)
		tok := e.opTok(t, planEnterprise, "lic-1", k)
		r := e.getToken(t, "DPoP "+tok, []string{e.proof(t, k, tok)}, scopeQuery(svc, "repository:stella-ops/team/app:pull,push,delete"))
		wantStatus(t, r, http.StatusOK)
		regTok, _ := r.Body["token"].(string)
		access, _ := e.registryToken(t, regTok).PrivateClaims()["access"].([]any)
		a, _ := access[0].(map[string]any)
		if acts, _ := a["actions"].([]any); len(acts) != 2 {
			t.Errorf("partial grant should keep pull and push and drop delete: %v", a)
		}
	})

	t.Run("repository outside the plan", func(t *testing.T) {
		k := newClientKey(t)
		tok := e.opTok(t, planCommunity, "lic-1", k)
		wantStatus(t, e.getToken(t, "DPoP "+tok, []string{e.proof(t, k, tok)}, scopeQuery(svc, "repository:stella-ops/team/app:pull")), http.StatusForbidden)
	})

	t.Run("revoked licence", func(t *testing.T) {
		k := newClientKey(t)
		tok := e.opTok(t, planEnterprise, revokedLicense, k)
		wantStatus(t, e.getToken(t, "DPoP "+tok, []string{e.proof(t, k, tok)}, pullPublic), http.StatusForbidden)
	})

	t.Run("catalog scope", func(t *testing.T) {
		q := scopeQuery(svc, "registry:catalog:*")
		k := newClientKey(t)
		tok := e.opTok(t, planEnterprise, "lic-1", k)
		wantStatus(t, e.getToken(t, "DPoP "+tok, []string{e.proof(t, k, tok)}, q), http.StatusOK)
		tok = e.opTok(t, planCommunity, "lic-1", k)
		wantStatus(t, e.getToken(t, "DPoP "+tok, []string{e.proof(t, k, tok)}, q), http.StatusForbidden)
	})

	// OpToks the service must refuse with 401 (or 403 for a missing
	// required scope, Problem403 of api/registry-token.openapi.yaml), each
	// presented with a valid proof.
	a := e.stack.Authority
	badToks := []struct {
		name   string
		mint   func(k *ClientKey) (string, error)
		status int
	}{
		{"wrong audience", func(k *ClientKey) (string, error) {
			return a.MintDPoP("u", planEnterprise, "l", k.JKT, []string{requiredScope}, []string{"somewhere-else"}, time.Minute)
		}, http.StatusUnauthorized},
		{"expired", func(k *ClientKey) (string, error) {
			return a.MintDPoP("u", planEnterprise, "l", k.JKT, []string{requiredScope}, nil, -10*time.Minute)
		}, http.StatusUnauthorized},
		{"unbound", func(k *ClientKey) (string, error) {
			return a.Mint(devauthority.Grant{Subject: "u", Plan: planEnterprise, Scopes: []string{requiredScope}})
		}, http.StatusUnauthorized},
		{"bound to another key", func(k *ClientKey) (string, error) {
			return a.MintDPoP("u", planEnterprise, "l", newClientKey(t).JKT, []string{requiredScope}, nil, time.Minute)
		}, http.StatusUnauthorized},
		{"wrong issuer", func(k *ClientKey) (string, error) {
			return a.MintDPoP("u", planEnterprise, "l", k.JKT, []string{requiredScope}, nil, time.Minute, devauthority.WithClaim("iss", "http://evil.example"))
		}, http.StatusUnauthorized},
		{"signed by an unpublished key", func(k *ClientKey) (string, error) {
			return a.MintDPoP("u", planEnterprise, "l", k.JKT, []string{requiredScope}, nil, time.Minute, devauthority.WithUnpublishedKey())
		}, http.StatusUnauthorized},
		{"missing required scope", func(k *ClientKey) (string, error) {
			return a.MintDPoP("u", planEnterprise, "l", k.JKT, []string{"openid"}, nil, time.Minute)
		}, http.StatusForbidden},
		{"unknown plan", func(k *ClientKey) (string, error) {
			return a.MintDPoP("u", "platinum", "l", k.JKT, []string{requiredScope}, nil, time.Minute)
		}, http.StatusForbidden},
	}
	for _, tc := range badToks {
		t.Run(tc.name, func(t *testing.T) {
			k := newClientKey(t)
			tok, err := tc.mint(k)
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, e.getToken(t, "DPoP "+tok, []string{e.proof(t, k, tok)}, pullPublic), tc.status)
		})
	}

	t.Run("proof problems", func(t *testing.T) {
		k := newClientKey(t)
		tok := e.opTok(t, planEnterprise, "lic-1", k)
		post, err := k.Proof(http.MethodPost, e.stack.Realm, tok)
		if err != nil {
			t.Fatal(err)
		}
		otherURL, err := k.Proof(http.MethodGet, strings.Replace(e.stack.Realm, "/token", "/other", 1), tok)
		if err != nil {
			t.Fatal(err)
		}
		noATH, err := k.Proof(http.MethodGet, e.stack.Realm, "")
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name   string
			authz  string
			proofs []string
		}{
			{"no proof, DPoP scheme", "DPoP " + tok, nil},
			{"no proof, Bearer scheme", "Bearer " + tok, nil},
			{"no Authorization", "", []string{e.proof(t, k, tok)}},
			{"wrong method", "DPoP " + tok, []string{post}},
			{"wrong URL", "DPoP " + tok, []string{otherURL}},
			{"no ath", "DPoP " + tok, []string{noATH}},
			{"two proofs", "DPoP " + tok, []string{e.proof(t, k, tok), e.proof(t, k, tok)}},
			{"garbage proof", "DPoP " + tok, []string{"not.a.jwt"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				wantStatus(t, e.getToken(t, tc.authz, tc.proofs, pullPublic), http.StatusUnauthorized)
			})
		}
	})

	t.Run("replayed proof", func(t *testing.T) {
		k := newClientKey(t)
		tok := e.opTok(t, planEnterprise, "lic-1", k)
		p := e.proof(t, k, tok)
		wantStatus(t, e.getToken(t, "DPoP "+tok, []string{p}, pullPublic), http.StatusOK)
		wantStatus(t, e.getToken(t, "DPoP "+tok, []string{p}, pullPublic), http.StatusUnauthorized)
		// A fresh proof with the same token still works.
		wantStatus(t, e.getToken(t, "DPoP "+tok, []string{e.proof(t, k, tok)}, pullPublic), http.StatusOK)
	})

	t.Run("bad requests", func(t *testing.T) {
		k := newClientKey(t)
		tok := e.opTok(t, planEnterprise, "lic-1", k)
		for name, q := range map[string]map[string][]string{
			"missing service":    scopeQuery("", "repository:stella-ops/public/base:pull"),
			"unknown service":    scopeQuery("registry.elsewhere", "repository:stella-ops/public/base:pull"),
			"malformed scope":    scopeQuery(svc, "repository:stella-ops/public/base"),
			"more than 100":      scopeQuery(svc, strings.Fields(strings.Repeat("repository:stella-ops/public/base:pull ", 101))...),
			"unknown scope type": scopeQuery(svc, "bogus:x:pull"),
		} {
			t.Run(name, func(t *testing.T) {
				wantStatus(t, e.getToken(t, "DPoP "+tok, []string{e.proof(t, k, tok)}, q), http.StatusBadRequest)
			})
		}
	})

	t.Run("POST /token: the OAuth2 form with a DPoP proof for POST", func(t *testing.T) {
		k := newClientKey(t)
		tok := e.opTok(t, planEnterprise, "lic-1", k)
		proof, err := k.Proof(http.MethodPost, e.stack.Realm, tok)
		if err != nil {
			t.Fatal(err)
		}
		form := "grant_type=refresh_token&service=" + svc + "&scope=repository:stella-ops/public/base:pull"
		req, err := http.NewRequest(http.MethodPost, e.stack.Realm, strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "DPoP "+tok)
		req.Header.Set("DPoP", proof)
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var body map[string]any
		if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &body) != nil || body["token"] == nil ||
			body["scope"] != "repository:stella-ops/public/base:pull" || body["refresh_token"] != nil {
			t.Fatalf("POST /token: %d %s, want a token for the granted scope and no refresh_token", resp.StatusCode, raw)
		}
	})

	t.Run("login without scope gives an empty access list", func(t *testing.T) {
		k := newClientKey(t)
		tok := e.opTok(t, planCommunity, "lic-1", k)
		r := e.getToken(t, "DPoP "+tok, []string{e.proof(t, k, tok)}, scopeQuery(svc))
		wantStatus(t, r, http.StatusOK)
		regTok, _ := r.Body["token"].(string)
		access, ok := e.registryToken(t, regTok).PrivateClaims()["access"].([]any)
		if !ok || len(access) != 0 {
			t.Errorf("access = %v, want []", access)
		}
	})
}
