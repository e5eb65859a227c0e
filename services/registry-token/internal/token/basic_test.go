package token_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/stellaops/authgate/pkg/dpop"
)

const realm = "https://registry-token.test/token"

// basic is the Authorization value docker, podman, skopeo, helm, oras and
// regctl send: Basic base64(user:password).
func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// withCert puts cert on the request's TLS connection (nil: TLS without a
// client certificate).
func withCert(r *http.Request, cert *x509.Certificate) *http.Request {
	r.TLS = &tls.ConnectionState{}
	if cert != nil {
		r.TLS.PeerCertificates = []*x509.Certificate{cert}
	}
	return r
}

// certBound returns an OpTok bound to cert.
func (f *fixture) certBound(cert *x509.Certificate) string {
	c := f.auth.Claims("user-1", f.clock.Now())
	c["cnf"] = map[string]any{"x5t#S256": dpop.CertThumbprint(cert)}
	return f.mint(c)
}

// wantRefusal checks a 401 problem with reason and a description
// containing desc.
func wantRefusal(t *testing.T, f *fixture, r *http.Request, status int, reason, desc string) map[string]any {
	t.Helper()
	rec := f.do(r)
	if rec.Code != status {
		t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	p := problem(t, rec)
	if p["reason"] != reason || !strings.Contains(fmtAny(p["error_description"]), desc) {
		t.Fatalf("reason %v, description %q; want %s, %q", p["reason"], p["error_description"], reason, desc)
	}
	return p
}

func TestBasicCertBoundOpTok(t *testing.T) {
	f := newFixture(t, options{basicRealm: realm})
	cert := selfSigned(t, "client")
	tok := f.certBound(cert)

	rec := f.do(withCert(request(pullBase, basic("oauth2accesstoken", tok), ""), cert))
	if got := accessOf(t, issued(t, f, rec, rec.Body.Bytes())); got != `[{"actions":["pull"],"name":"stella-ops/public/base","type":"repository"}]` {
		t.Fatalf("access %s", got)
	}
	// The username is not used for the decision.
	if rec := f.do(withCert(request(pullBase, basic("anyone", tok), ""), cert)); rec.Code != http.StatusOK {
		t.Fatalf("other username: %d %s", rec.Code, rec.Body)
	}
	if got := counter(t, f, "registry_token_issued_total", ""); got != 2 {
		t.Fatalf("issued = %v", got)
	}
	lines := f.logs.FilterMessage("token issued").All()
	if len(lines) != 2 || lines[0].ContextMap()["credential"] != "basic" {
		t.Fatalf("decision lines %+v", lines)
	}
}

func TestBasicRefusals(t *testing.T) {
	cert := selfSigned(t, "client")

	t.Run("DPoP-bound OpTok", func(t *testing.T) {
		f := newFixture(t, options{basicRealm: realm})
		tok := f.mint(f.claims())
		// Control: the same OpTok with its proof.
		if rec := f.do(request(pullBase, "DPoP "+tok, f.proof(tok))); rec.Code != http.StatusOK {
			t.Fatalf("control: %d %s", rec.Code, rec.Body)
		}
		// Even with a valid proof header: a proof cannot ride in Basic.
		r := withCert(request(pullBase, basic("u", tok), f.proof(tok)), cert)
		wantRefusal(t, f, r, http.StatusUnauthorized, "dpop_token_as_password", "registry-token-helper")
		wantRefusal(t, f, withCert(request(pullBase, basic("u", tok), ""), cert), http.StatusUnauthorized, "dpop_token_as_password", "DPoP-capable client")
		if got := counter(t, f, "registry_token_rejected_total", "dpop_token_as_password"); got != 2 {
			t.Fatalf("dpop_token_as_password = %v", got)
		}
	})

	t.Run("unbound OpTok", func(t *testing.T) {
		f := newFixture(t, options{optional: true, basicRealm: realm})
		tok := f.mint(f.auth.Claims("user-1", f.clock.Now()))
		// Control: accepted as Bearer while the constraint is optional.
		if rec := f.do(request(pullBase, "Bearer "+tok, "")); rec.Code != http.StatusOK {
			t.Fatalf("control: %d %s", rec.Code, rec.Body)
		}
		wantRefusal(t, f, withCert(request(pullBase, basic("u", tok), ""), cert), http.StatusUnauthorized, "sender_constraint", "certificate-bound")
	})

	t.Run("no client certificate", func(t *testing.T) {
		f := newFixture(t, options{basicRealm: realm})
		tok := f.certBound(cert)
		if rec := f.do(withCert(request(pullBase, basic("u", tok), ""), cert)); rec.Code != http.StatusOK {
			t.Fatalf("control: %d %s", rec.Code, rec.Body)
		}
		wantRefusal(t, f, withCert(request(pullBase, basic("u", tok), ""), nil), http.StatusUnauthorized, "sender_constraint", "No client certificate")
		wantRefusal(t, f, request(pullBase, basic("u", tok), ""), http.StatusUnauthorized, "sender_constraint", "No client certificate")
	})

	t.Run("a different certificate", func(t *testing.T) {
		f := newFixture(t, options{basicRealm: realm})
		tok := f.certBound(cert)
		if rec := f.do(withCert(request(pullBase, basic("u", tok), ""), cert)); rec.Code != http.StatusOK {
			t.Fatalf("control: %d %s", rec.Code, rec.Body)
		}
		wantRefusal(t, f, withCert(request(pullBase, basic("u", tok), ""), selfSigned(t, "other")), http.StatusUnauthorized, "sender_constraint", "does not match")
	})

	t.Run("password that is not a JWT", func(t *testing.T) {
		f := newFixture(t, options{basicRealm: realm})
		tok := f.certBound(cert)
		before := f.validations.calls.Load()
		if rec := f.do(withCert(request(pullBase, basic("u", tok), ""), cert)); rec.Code != http.StatusOK {
			t.Fatalf("control: %d %s", rec.Code, rec.Body)
		}
		if got := f.validations.calls.Load() - before; got != 1 {
			t.Fatalf("control asked the Authority %d times", got)
		}
		for _, pass := range []string{"hunter2", "a.b", "a.b.c.d", "a..c", "é.b.c", tok + " ", ""} {
			p := wantRefusal(t, f, withCert(request(pullBase, basic("u", pass), ""), cert), http.StatusUnauthorized, "invalid_token", "not an Authority access token")
			if p["error"] != "invalid_token" {
				t.Fatalf("error %v", p["error"])
			}
		}
		if got := f.validations.calls.Load() - before; got != 1 {
			t.Fatalf("the Authority was asked about a non-JWT password (%d calls)", got)
		}
	})

	t.Run("malformed Basic credentials", func(t *testing.T) {
		f := newFixture(t, options{basicRealm: realm})
		for _, v := range []string{"Basic !!!", "Basic " + base64.StdEncoding.EncodeToString([]byte("no-colon"))} {
			wantRefusal(t, f, withCert(request(pullBase, v, ""), cert), http.StatusUnauthorized, "invalid_token", "base64(username:password)")
		}
	})

	t.Run("forwarded certificate only from a trusted proxy", func(t *testing.T) {
		f := newFixture(t, options{trusted: []string{"10.0.0.0/8"}, basicRealm: realm})
		tok := f.certBound(cert)
		fwd := ":" + base64.StdEncoding.EncodeToString(cert.Raw) + ":"
		r := request(pullBase, basic("u", tok), "")
		r.RemoteAddr = "10.1.2.3:4444"
		r.Header.Set(dpop.HeaderClientCert, fwd)
		if rec := f.do(r); rec.Code != http.StatusOK {
			t.Fatalf("trusted proxy: %d %s", rec.Code, rec.Body)
		}
		r = request(pullBase, basic("u", tok), "")
		r.RemoteAddr = "192.0.2.1:4444"
		r.Header.Set(dpop.HeaderClientCert, fwd)
		wantRefusal(t, f, r, http.StatusUnauthorized, "sender_constraint", "No client certificate")
	})
}

func TestChallengesOfferBasicWhenCertificatesReachTheService(t *testing.T) {
	for _, tc := range []struct {
		name, realm string
		want        bool
	}{{"client certificates verified", realm, true}, {"no client certificates", "", false}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, options{basicRealm: tc.realm})
			for _, authz := range []string{"", "Bearer not-a-token"} {
				rec := f.do(request(pullBase, authz, ""))
				got := rec.Result().Header.Values("WWW-Authenticate")
				hasBasic := false
				for _, v := range got {
					hasBasic = hasBasic || v == `Basic realm="`+realm+`", charset="UTF-8"`
				}
				if rec.Code != http.StatusUnauthorized || hasBasic != tc.want || len(got) < 2 {
					t.Fatalf("%q: %d %q, want Basic: %v", authz, rec.Code, got, tc.want)
				}
			}
		})
	}
}
