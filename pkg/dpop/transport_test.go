package dpop_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/stellaops/authgate/pkg/dpop"
)

// seen is one request as the test server received it.
type seen struct {
	method, path, authz, body string
	proof                     map[string]any // nil without a DPoP header
}

// recorder answers with answer(n) (n counts from 1) and records requests.
type recorder struct {
	mu     sync.Mutex
	got    []seen
	answer func(n int, w http.ResponseWriter)
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s := seen{method: r.Method, path: r.URL.Path, authz: r.Header.Get("Authorization"), body: string(b)}
	if p := r.Header.Get(dpop.HeaderDPoP); p != "" {
		parts := strings.Split(p, ".")
		raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
		_ = json.Unmarshal(raw, &s.proof)
	}
	rc.mu.Lock()
	rc.got = append(rc.got, s)
	n := len(rc.got)
	rc.mu.Unlock()
	rc.answer(n, w)
}

func nonceChallenge(nonce string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce", error_description="Authorization server requires nonce in DPoP proof."`)
		w.Header().Set(dpop.HeaderDPoPNonce, nonce)
		w.WriteHeader(http.StatusUnauthorized)
	}
}

func newTransport(t *testing.T, answer func(n int, w http.ResponseWriter)) (*dpop.Transport, *recorder, string) {
	t.Helper()
	rc := &recorder{answer: answer}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwk.FromRaw(priv)
	if err != nil {
		t.Fatal(err)
	}
	return &dpop.Transport{Realm: srv.URL + "/token", AccessToken: "tok.en.x", Key: key}, rc, srv.URL
}

func ok(w http.ResponseWriter) { w.WriteHeader(http.StatusOK) }

func TestTransportSignsRealmRequestsOnly(t *testing.T) {
	tr, rc, base := newTransport(t, func(int, http.ResponseWriter) {})
	c := &http.Client{Transport: tr}
	get := func(url, authz string) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", authz)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get(base+"/v2/team/app/manifests/latest", "Basic dTpw")
	get(base+"/token?service=s&scope=repository:team/app:pull", "Basic dTpw")
	get(base+"/token2", "Basic dTpw")
	if len(rc.got) != 3 || tr.RealmCalls() != 1 {
		t.Fatalf("%d requests, %d realm calls", len(rc.got), tr.RealmCalls())
	}
	if g := rc.got[0]; g.authz != "Basic dTpw" || g.proof != nil {
		t.Fatalf("registry request changed: %+v", g)
	}
	if g := rc.got[2]; g.authz != "Basic dTpw" || g.proof != nil {
		t.Fatalf("a path that only starts like the realm was signed: %+v", g)
	}
	g := rc.got[1]
	if g.authz != "DPoP tok.en.x" || g.proof["htm"] != "GET" || g.proof["htu"] != base+"/token" || g.proof["ath"] == nil || g.proof["nonce"] != nil {
		t.Fatalf("realm request: %+v", g)
	}
}

func TestTransportRetriesOnceWithTheNonce(t *testing.T) {
	tr, rc, base := newTransport(t, func(n int, w http.ResponseWriter) {
		if n == 1 {
			nonceChallenge("n1")(w)
			return
		}
		w.Header().Set(dpop.HeaderDPoPNonce, "n2")
		ok(w)
	})
	form := "grant_type=refresh_token&refresh_token=tok.en.x&service=s"
	resp, err := (&http.Client{Transport: tr}).Post(base+"/token", "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(rc.got) != 2 {
		t.Fatalf("status %d after %d requests", resp.StatusCode, len(rc.got))
	}
	for i, g := range rc.got {
		// A form carries the token itself: no Authorization header.
		if g.authz != "" || g.proof["htm"] != "POST" || g.body != form {
			t.Fatalf("request %d: %+v", i, g)
		}
	}
	if rc.got[0].proof["nonce"] != nil || rc.got[1].proof["nonce"] != "n1" || rc.got[0].proof["jti"] == rc.got[1].proof["jti"] {
		t.Fatalf("proofs %v then %v", rc.got[0].proof, rc.got[1].proof)
	}
	// The nonce of the last answer goes into the next proof at once.
	resp, err = (&http.Client{Transport: tr}).Get(base + "/token")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(rc.got) != 3 || rc.got[2].proof["nonce"] != "n2" {
		t.Fatalf("next proof %v", rc.got[len(rc.got)-1].proof)
	}
}

func TestTransportRetriesOnlyOnce(t *testing.T) {
	tr, rc, base := newTransport(t, func(n int, w http.ResponseWriter) { nonceChallenge("n" + strings.Repeat("x", n))(w) })
	resp, err := (&http.Client{Transport: tr}).Get(base + "/token")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || len(rc.got) != 2 {
		t.Fatalf("status %d after %d requests, want 401 after 2", resp.StatusCode, len(rc.got))
	}
}

func TestTransportDoesNotRetryWhatItCannotReplay(t *testing.T) {
	tr, rc, base := newTransport(t, func(n int, w http.ResponseWriter) { nonceChallenge("n1")(w) })
	req, _ := http.NewRequest(http.MethodPost, base+"/token", io.NopCloser(strings.NewReader("grant_type=password")))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.GetBody = nil
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || len(rc.got) != 1 {
		t.Fatalf("status %d after %d requests, want the first 401", resp.StatusCode, len(rc.got))
	}
}

func TestTransportNonceIn400Body(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		requests   int
	}{
		{"use_dpop_nonce", `{"error":"use_dpop_nonce"}`, 2},
		{"another error", `{"error":"invalid_scope"}`, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, rc, base := newTransport(t, func(n int, w http.ResponseWriter) {
				if n > 1 {
					ok(w)
					return
				}
				w.Header().Set(dpop.HeaderDPoPNonce, "n1")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, tc.body)
			})
			resp, err := (&http.Client{Transport: tr}).Get(base + "/token")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if len(rc.got) != tc.requests || (tc.requests == 1 && string(b) != tc.body) {
				t.Fatalf("%d requests, body %q", len(rc.got), b)
			}
		})
	}
}

func TestTransportConfigurationErrors(t *testing.T) {
	tr, _, base := newTransport(t, func(int, http.ResponseWriter) {})
	for name, edit := range map[string]func(*dpop.Transport){
		"no realm":    func(t *dpop.Transport) { t.Realm = "" },
		"relative":    func(t *dpop.Transport) { t.Realm = "/token" },
		"no key":      func(t *dpop.Transport) { t.Key = nil },
		"public key":  func(t *dpop.Transport) { t.Key, _ = t.Key.PublicKey() },
		"unknown alg": func(t *dpop.Transport) { t.Alg = "HS256" },
	} {
		t.Run(name, func(t *testing.T) {
			bad := &dpop.Transport{Realm: tr.Realm, AccessToken: tr.AccessToken, Key: tr.Key}
			edit(bad)
			if _, err := (&http.Client{Transport: bad}).Get(base + "/token"); err == nil {
				t.Fatal("request sent")
			}
		})
	}
}
