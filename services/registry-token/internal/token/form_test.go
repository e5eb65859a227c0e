package token_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stellaops/authgate/services/registry-token/internal/token"
)

// post builds POST /token with a form body.
func post(form url.Values, authz, proof string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if authz != "" {
		r.Header.Set("Authorization", authz)
	}
	if proof != "" {
		r.Header.Set("DPoP", proof)
	}
	return r
}

func refreshForm(tok string, scopes ...string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}, "service": {service},
		"client_id": {"containers/image"}, "access_type": {"online"}, "scope": scopes}
}

// postAnswer decodes a 200 POST answer and checks the OAuth2 fields.
func postAnswer(t *testing.T, f *fixture, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	issued(t, f, rec, rec.Body.Bytes())
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["refresh_token"]; ok {
		t.Fatal("a refresh_token was issued")
	}
	return m
}

func TestPostRefreshTokenGrant(t *testing.T) {
	f := newFixture(t, options{plans: nil})
	cert := selfSigned(t, "client")
	tok := f.certBound(cert)
	// scope repeats and one value holds several scopes.
	form := refreshForm(tok, "repository:stella-ops/public/base:pull repository:stella-ops/public/other:pull,push", "repository:stella-ops/public/third:pull")
	m := postAnswer(t, f, f.do(withCert(post(form, "", ""), cert)))
	want := "repository:stella-ops/public/base:pull repository:stella-ops/public/other:pull repository:stella-ops/public/third:pull"
	if m["scope"] != want {
		t.Fatalf("scope %q, want %q", m["scope"], want)
	}
	lines := f.logs.FilterMessage("token issued").All()
	if len(lines) != 1 || lines[0].ContextMap()["credential"] != "refresh_token" {
		t.Fatalf("decision lines %+v", lines)
	}
	if got := counter(t, f, "registry_token_issued_total", ""); got != 1 {
		t.Fatalf("issued = %v", got)
	}
	// Refusal next to it: the same form without the certificate.
	wantRefusal(t, f, withCert(post(form, "", ""), nil), http.StatusUnauthorized, "sender_constraint", "No client certificate")
	if got := counter(t, f, "registry_token_rejected_total", "sender_constraint"); got != 1 {
		t.Fatalf("sender_constraint = %v", got)
	}
}

func TestPostPasswordGrant(t *testing.T) {
	f := newFixture(t, options{})
	cert := selfSigned(t, "client")
	tok := f.certBound(cert)
	form := url.Values{"grant_type": {"password"}, "username": {"oauth2accesstoken"}, "password": {tok}, "service": {service}}
	m := postAnswer(t, f, f.do(withCert(post(form, "", ""), cert)))
	if s, ok := m["scope"]; !ok || s != "" {
		t.Fatalf("login without scope: scope %v (present: %v), want an empty string", s, ok)
	}
	form.Set("password", "hunter2")
	before := f.validations.calls.Load()
	wantRefusal(t, f, withCert(post(form, "", ""), cert), http.StatusUnauthorized, "invalid_token", "not an Authority access token")
	if f.validations.calls.Load() != before {
		t.Fatal("the Authority was asked about a non-JWT password")
	}
}

func TestPostDPoP(t *testing.T) {
	f := newFixture(t, options{})
	tok := f.mint(f.claims())
	postProof := func(method string) string { return f.postProof(method, tok) }
	pull := []string{"repository:stella-ops/public/base:pull"}
	// The OpTok in the form with a proof for POST.
	postAnswer(t, f, f.do(post(refreshForm(tok, pull...), "", postProof(http.MethodPost))))
	// The OpTok in the Authorization header, the form holding only the grant.
	postAnswer(t, f, f.do(post(url.Values{"grant_type": {"refresh_token"}, "service": {service}, "scope": pull}, "DPoP "+tok, postProof(http.MethodPost))))

	wantRefusal(t, f, post(refreshForm(tok, pull...), "", ""), http.StatusUnauthorized, "dpop_token_as_password", "registry-token-helper")
	wantRefusal(t, f, post(refreshForm(tok, pull...), "", postProof(http.MethodGet)), http.StatusUnauthorized, "invalid_proof", "htm")
	wantRefusal(t, f, post(refreshForm(tok, pull...), "DPoP "+tok, postProof(http.MethodPost)), http.StatusBadRequest, "invalid_form", "both")
}

func TestPostBadForms(t *testing.T) {
	f := newFixture(t, options{})
	cert := selfSigned(t, "client")
	tok := f.certBound(cert)
	// The accepted control.
	postAnswer(t, f, f.do(withCert(post(refreshForm(tok), "", ""), cert)))

	big := refreshForm(tok)
	big.Set("client_id", strings.Repeat("x", token.MaxFormBytes))
	for _, tc := range []struct {
		name        string
		req         *http.Request
		code, reach string
	}{
		{"unknown grant_type", post(url.Values{"grant_type": {"client_credentials"}, "service": {service}}, "", ""), "unsupported_grant_type", "unsupported_grant_type"},
		{"missing grant_type", post(url.Values{"refresh_token": {tok}, "service": {service}}, "", ""), "invalid_request", "invalid_form"},
		{"repeated refresh_token", post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok, tok}, "service": {service}}, "", ""), "invalid_request", "invalid_form"},
		{"oversized body", post(big, "", ""), "invalid_request", "invalid_form"},
		{"JSON body", func() *http.Request {
			r := post(refreshForm(tok), "", "")
			r.Header.Set("Content-Type", "application/json")
			return r
		}(), "invalid_request", "invalid_form"},
		{"no content type", func() *http.Request {
			r := post(refreshForm(tok), "", "")
			r.Header.Del("Content-Type")
			return r
		}(), "invalid_request", "invalid_form"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.do(withCert(tc.req, cert))
			p := problem(t, rec)
			if rec.Code != http.StatusBadRequest || p["error"] != tc.code || p["reason"] != tc.reach ||
				p["error_description"] == "" || p["status"] != float64(400) || p["title"] == nil || p["token"] != nil {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
		})
	}
	if got := counter(t, f, "registry_token_rejected_total", "invalid_form"); got != 5 {
		t.Fatalf("invalid_form = %v", got)
	}
	if got := counter(t, f, "registry_token_rejected_total", "unsupported_grant_type"); got != 1 {
		t.Fatalf("unsupported_grant_type = %v", got)
	}
	if got := len(f.logs.FilterMessage("token denied").All()); got != 6 {
		t.Fatalf("%d denial lines, want 6", got)
	}
}

func FuzzParseForm(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=a.b.c&service=s&scope=repository:a:pull+repository:b:push")
	f.Add("application/x-www-form-urlencoded; charset=utf-8", "grant_type=password&username=u&password=x&scope=a&scope=b")
	f.Add("application/x-www-form-urlencoded", "grant_type=password&password=x&refresh_token=y")
	f.Add("multipart/form-data", "%zz")
	f.Add("application/x-www-form-urlencoded", "grant_type=refresh_token&grant_type=password&access_type=offline")
	f.Fuzz(func(t *testing.T, ct, body string) {
		form, err := token.ParseForm(ct, strings.NewReader(body))
		if err != nil {
			var fe *token.FormError
			if !errors.As(err, &fe) || fe.Msg == "" || strings.Contains(fe.Msg, body) && len(body) > 40 {
				t.Fatalf("error %v", err)
			}
			return
		}
		if form.GrantType != token.GrantRefreshToken && form.GrantType != token.GrantPassword {
			t.Fatalf("grant %q accepted", form.GrantType)
		}
		if len(body) > token.MaxFormBytes {
			t.Fatal("oversized body accepted")
		}
	})
}

// TestPostRefusals are the sender-constraint refusals of the OAuth2 form,
// each next to its accepted control.
func TestPostRefusals(t *testing.T) {
	cert := selfSigned(t, "client")
	form := func(tok string) url.Values {
		return url.Values{"grant_type": {"password"}, "username": {"u"}, "password": {tok}, "service": {service}}
	}
	t.Run("unbound OpTok", func(t *testing.T) {
		f := newFixture(t, options{optional: true})
		tok := f.mint(f.auth.Claims("user-1", f.clock.Now()))
		if rec := f.do(request(pullBase, "Bearer "+tok, "")); rec.Code != http.StatusOK {
			t.Fatalf("control: %d %s", rec.Code, rec.Body)
		}
		wantRefusal(t, f, withCert(post(form(tok), "", ""), cert), http.StatusUnauthorized, "sender_constraint", "certificate-bound")
	})
	t.Run("a different certificate", func(t *testing.T) {
		f := newFixture(t, options{})
		tok := f.certBound(cert)
		postAnswer(t, f, f.do(withCert(post(form(tok), "", ""), cert)))
		wantRefusal(t, f, withCert(post(form(tok), "", ""), selfSigned(t, "other")), http.StatusUnauthorized, "sender_constraint", "does not match")
	})
	t.Run("a certificate-bound OpTok with a DPoP proof", func(t *testing.T) {
		f := newFixture(t, options{})
		tok := f.certBound(cert)
		postAnswer(t, f, f.do(withCert(post(form(tok), "", ""), cert)))
		wantRefusal(t, f, withCert(post(form(tok), "", f.proof(tok)), cert), http.StatusUnauthorized, "sender_constraint", "not DPoP-bound")
	})
}

// The charset parameter is matched case-insensitively (RFC 2046 §4.1.2):
// clients send utf-8, UTF-8 or Utf-8; any other charset is refused.
func TestParseFormCharset(t *testing.T) {
	body := "grant_type=refresh_token&refresh_token=a.b.c&service=" + service
	for _, ct := range []string{
		"application/x-www-form-urlencoded",
		"application/x-www-form-urlencoded; charset=utf-8",
		"application/x-www-form-urlencoded; charset=UTF-8",
		"Application/X-WWW-Form-Urlencoded; Charset=Utf-8",
	} {
		if f, err := token.ParseForm(ct, strings.NewReader(body)); err != nil || f.Token != "a.b.c" {
			t.Errorf("%q: %v", ct, err)
		}
	}
	for _, ct := range []string{
		"application/x-www-form-urlencoded; charset=iso-8859-1",
		"application/x-www-form-urlencoded; charset=utf-16",
		"application/x-www-form-urlencoded; charset=",
	} {
		var fe *token.FormError
		if _, err := token.ParseForm(ct, strings.NewReader(body)); !errors.As(err, &fe) || fe.Grant {
			t.Errorf("%q: %v, want a form error", ct, err)
		}
	}
}

// POST /token with the OpTok in Basic credentials and a form that holds
// only the grant: the Basic rules of GET apply, and a form and header
// without any OpTok is a missing token that names the Basic challenge.
func TestPostBasicHeader(t *testing.T) {
	cert := selfSigned(t, "client")
	f := newFixture(t, options{basicRealm: realm})
	grant := url.Values{"grant_type": {"refresh_token"}, "service": {service}, "scope": {"repository:stella-ops/public/base:pull"}}
	tok := f.certBound(cert)
	// The accepted control.
	postAnswer(t, f, f.do(withCert(post(grant, basic("oauth2accesstoken", tok), ""), cert)))

	t.Run("no client certificate", func(t *testing.T) {
		wantRefusal(t, f, withCert(post(grant, basic("oauth2accesstoken", tok), ""), nil), http.StatusUnauthorized, "sender_constraint", "No client certificate")
		form := url.Values{"grant_type": {"password"}, "username": {"u"}, "password": {tok}, "service": {service}}
		wantRefusal(t, f, withCert(post(form, "", ""), nil), http.StatusUnauthorized, "sender_constraint", "No client certificate")
	})
	t.Run("DPoP-bound OpTok in Basic, even with a POST proof", func(t *testing.T) {
		dtok := f.mint(f.claims())
		wantRefusal(t, f, withCert(post(grant, basic("u", dtok), f.postProof(http.MethodPost, dtok)), cert), http.StatusUnauthorized, "dpop_token_as_password", "registry-token-helper")
	})
	t.Run("no OpTok in the form or the header", func(t *testing.T) {
		rec := f.do(withCert(post(grant, "", ""), cert))
		if p := problem(t, rec); rec.Code != http.StatusUnauthorized || p["reason"] != "missing_token" {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		if ch := strings.Join(rec.Header().Values("WWW-Authenticate"), "\n"); !strings.Contains(ch, `Basic realm="`+realm+`"`) || strings.Contains(ch, "error=") {
			t.Fatalf("challenges %q: want a Basic challenge and no error attribute (RFC 6750 §3.1)", ch)
		}
	})
}
