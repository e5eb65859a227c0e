package token_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
)

// counter reads a counter from the real Prometheus exposition.
func counter(t *testing.T, f *fixture, name, reason string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	f.e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatal(err)
	}
	fam, ok := families[name]
	if !ok {
		return 0
	}
	for _, m := range fam.GetMetric() {
		if reason == "" {
			return m.GetCounter().GetValue()
		}
		for _, l := range m.GetLabel() {
			if l.GetName() == "reason" && l.GetValue() == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestReplayedProofIsRejected(t *testing.T) {
	f := newFixture(t, options{})
	tok := f.mint(f.claims())
	proof := f.proof(tok)
	if rec := f.do(request(pullBase, "DPoP "+tok, proof)); rec.Code != http.StatusOK {
		t.Fatalf("first use: %d %s", rec.Code, rec.Body)
	}
	rec := f.do(request(pullBase, "DPoP "+tok, proof))
	if rec.Code != http.StatusUnauthorized || problem(t, rec)["error"] != "invalid_dpop_proof" {
		t.Fatalf("replay: %d %s", rec.Code, rec.Body)
	}
	if got := counter(t, f, "registry_token_rejected_total", "proof_replayed"); got != 1 {
		t.Fatalf("proof_replayed = %v", got)
	}
	if got := counter(t, f, "registry_token_issued_total", ""); got != 1 {
		t.Fatalf("issued = %v", got)
	}
	// A fresh proof for the same (cached) OpTok is accepted: proofs are
	// always verified, the OpTok only once.
	if rec := f.do(request(pullBase, "DPoP "+tok, f.proof(tok))); rec.Code != http.StatusOK {
		t.Fatalf("fresh proof: %d %s", rec.Code, rec.Body)
	}
}

func TestUnknownKidTriggersOneRateLimitedRefresh(t *testing.T) {
	f := newFixture(t, options{})
	before := f.auth.JWKSFetches()
	f.clock.Add(11 * time.Second) // past the minimum gap since the initial fetch

	rotated := f.auth.Rotate(t, true)
	tok := f.mint(f.claims())
	if rec := f.do(request(pullBase, "DPoP "+tok, f.proof(tok))); rec.Code != http.StatusOK {
		t.Fatalf("token from a rotated key: %d %s", rec.Code, rec.Body)
	}
	if got := f.auth.JWKSFetches() - before; got != 1 {
		t.Fatalf("JWKS fetched %d times, want 1", got)
	}

	// Another unknown kid within the gap: refused without a new fetch.
	f.auth.Rotate(t, false)
	tok = f.mint(f.claims())
	if rec := f.do(request(pullBase, "DPoP "+tok, f.proof(tok))); rec.Code != http.StatusUnauthorized {
		t.Fatalf("unpublished key: %d %s", rec.Code, rec.Body)
	}
	if got := f.auth.JWKSFetches() - before; got != 1 {
		t.Fatalf("JWKS fetched %d times within the gap, want 1", got)
	}
	_ = rotated
	// After the gap, the (now published) key is found by one more refresh.
	f.clock.Add(11 * time.Second)
	f.auth.Publish(t, f.signingKey())
	if rec := f.do(request(pullBase, "DPoP "+tok, f.proof(tok))); rec.Code != http.StatusOK {
		t.Fatalf("after the gap: %d %s", rec.Code, rec.Body)
	}
	if got := f.auth.JWKSFetches() - before; got != 2 {
		t.Fatalf("JWKS fetched %d times, want 2", got)
	}
}

func TestMTLSBoundToken(t *testing.T) {
	cert := selfSigned(t, "client")
	bound := func(f *fixture) string {
		c := f.auth.Claims("user-1", f.clock.Now())
		c["cnf"] = map[string]any{"x5t#S256": dpop.CertThumbprint(cert)}
		return f.mint(c)
	}
	t.Run("TLS client certificate", func(t *testing.T) {
		f := newFixture(t, options{})
		r := request(pullBase, "Bearer "+bound(f), "")
		r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
		if rec := f.do(r); rec.Code != http.StatusOK {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
	t.Run("forwarded by a trusted proxy", func(t *testing.T) {
		f := newFixture(t, options{trusted: []string{"10.0.0.0/8"}})
		r := request(pullBase, "Bearer "+bound(f), "")
		r.RemoteAddr = "10.1.2.3:5555"
		r.Header.Set("Client-Cert", ":"+base64.StdEncoding.EncodeToString(cert.Raw)+":")
		if rec := f.do(r); rec.Code != http.StatusOK {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	})
}

func TestNonceRoundTrip(t *testing.T) {
	f := newFixture(t, options{requireNonce: true})
	tok := f.mint(f.claims())
	rec := f.do(request(pullBase, "DPoP "+tok, f.proof(tok)))
	if rec.Code != http.StatusUnauthorized || problem(t, rec)["error"] != "use_dpop_nonce" {
		t.Fatalf("without nonce: %d %s", rec.Code, rec.Body)
	}
	nonce := rec.Header().Get("DPoP-Nonce")
	if nonce == "" {
		t.Fatal("no DPoP-Nonce header")
	}
	rec = f.do(request(pullBase, "DPoP "+tok, f.proofWith(f.clientKey, publicURL+"/token", tok, nonce)))
	if rec.Code != http.StatusOK {
		t.Fatalf("with nonce: %d %s", rec.Code, rec.Body)
	}
	if rec.Header().Get("DPoP-Nonce") == "" {
		t.Fatal("success without a next nonce")
	}
}

func TestLogsNeverCarryTokensOrProofs(t *testing.T) {
	f := newFixture(t, options{})
	tok := f.mint(f.claims())
	proof := f.proof(tok)
	ok := f.do(request(pullBase, "DPoP "+tok, proof))
	replay := f.do(request(pullBase, "DPoP "+tok, proof))
	if ok.Code != 200 || replay.Code != 401 {
		t.Fatalf("%d %d", ok.Code, replay.Code)
	}
	issuedTok := ok.Body.String()
	secrets := []string{tok, proof, strings.Split(tok, ".")[2], strings.Split(proof, ".")[2]}
	if i := strings.Index(issuedTok, `"token":"`); i >= 0 {
		secrets = append(secrets, strings.Split(issuedTok[i+9:], `"`)[0])
	}
	entries := f.logs.All()
	if len(entries) < 4 {
		t.Fatalf("expected decision and request lines, got %d", len(entries))
	}
	for _, e := range entries {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += " " + k + "=" + strings.ReplaceAll(strings.TrimSpace(fmtAny(v)), "\n", " ")
		}
		for _, s := range secrets {
			if strings.Contains(line, s) {
				t.Fatalf("log line carries a secret: %s", line)
			}
		}
	}
	issued := f.logs.FilterMessage("token issued").All()
	if len(issued) != 1 || issued[0].ContextMap()["subject"] != "user-1" || issued[0].ContextMap()["plan"] != "community" {
		t.Fatalf("decision line: %+v", issued)
	}
}

// With the OpTok served from the verified-OpTok cache and the caller's
// proof header remembered by the proof verifier, every proof is still
// checked in full: one signed by another key under the caller's header, one
// for another token, one for another URL, and none at all are refused.
func TestCachedOpTokProofStillVerified(t *testing.T) {
	f := newFixture(t, options{})
	tok := f.mint(f.claims())
	good := f.proof(tok)
	if rec := f.do(request(pullBase, "DPoP "+tok, good)); rec.Code != http.StatusOK {
		t.Fatalf("first use: %d %s", rec.Code, rec.Body)
	}
	header := good[:strings.IndexByte(good, '.')]
	other := f.proofWith(authoritytest.NewKey(t), publicURL+"/token", tok, "")
	forged := header + other[strings.IndexByte(other, '.'):] // the caller's header, another key's signature
	for name, proof := range map[string]string{
		"caller's header, another key's signature": forged,
		"proof for another token":                  f.proof(f.mint(f.claims())),
		"proof for another URL":                    f.proofWith(f.clientKey, "https://elsewhere.test/token", tok, ""),
		"proof by another key":                     other,
		"no proof":                                 "",
	} {
		t.Run(name, func(t *testing.T) {
			rec := f.do(request(pullBase, "DPoP "+tok, proof))
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
		})
	}
	if got := counter(t, f, "registry_token_issued_total", ""); got != 1 {
		t.Fatalf("issued = %v", got)
	}
	if rec := f.do(request(pullBase, "DPoP "+tok, f.proof(tok))); rec.Code != http.StatusOK {
		t.Fatalf("fresh proof: %d %s", rec.Code, rec.Body)
	}
}
