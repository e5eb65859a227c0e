package dpop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
)

func newCert(t *testing.T, cn string) *x509.Certificate {
	t.Helper()
	priv := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Example, Inc."}},
		NotBefore:    testNow.Add(-time.Hour),
		NotAfter:     testNow.Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der := must(x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv))
	return must(x509.ParseCertificate(der))
}

func pemOf(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// escapePEM URL-encodes like nginx's $ssl_client_escaped_cert and Envoy:
// spaces and newlines percent-encoded, "+" and "/" left alone or encoded.
func escapePEM(s string, encodePlus bool) string {
	r := strings.NewReplacer(" ", "%20", "\n", "%0A", "=", "%3D")
	out := r.Replace(s)
	if encodePlus {
		out = strings.NewReplacer("+", "%2B", "/", "%2F").Replace(out)
	}
	return out
}

func TestCertThumbprintAndBinding(t *testing.T) {
	c, other := newCert(t, "client"), newCert(t, "other")
	sum := sha256.Sum256(c.Raw)
	spki := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	if got := CertThumbprint(c); got != want {
		t.Fatalf("CertThumbprint = %q, want %q", got, want)
	}
	if err := CheckCertBinding(c, want); err != nil {
		t.Fatalf("CheckCertBinding(match): %v", err)
	}
	for name, tc := range map[string]struct {
		cert *x509.Certificate
		x5t  string
	}{
		"other certificate":    {other, want},
		"no certificate":       {nil, want},
		"token not cert-bound": {c, ""},
		"padded base64 x5t":    {c, base64.URLEncoding.EncodeToString(sum[:])},
		"hex x5t":              {c, hex.EncodeToString(sum[:])},
		"x5t of the SPKI only": {c, b64.EncodeToString(spki[:])},
	} {
		t.Run(name, func(t *testing.T) {
			if err := CheckCertBinding(tc.cert, tc.x5t); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("CheckCertBinding = %v, want ErrInvalidToken", err)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	tp, err := ParseTrustedProxies([]string{"10.0.0.0/8", " 192.168.1.7 ", "2001:db8::/32", "10.1.2.3/8"}, "x-forwarded-client-cert")
	if err != nil {
		t.Fatal(err)
	}
	if tp.Header() != HeaderXFCC {
		t.Errorf("Header() = %q", tp.Header())
	}
	for addr, want := range map[string]bool{
		"10.2.3.4": true, "::ffff:10.2.3.4": true, "192.168.1.7": true, "192.168.1.8": false,
		"2001:db8::5": true, "2001:db9::5": false, "11.0.0.1": false, "127.0.0.1": false,
	} {
		if got := tp.Contains(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Contains(%s) = %v, want %v", addr, got, want)
		}
	}
	if tp.Contains(netip.Addr{}) {
		t.Error("Contains(invalid addr) = true")
	}
	if (TrustedProxies{}).Contains(netip.MustParseAddr("10.0.0.1")) {
		t.Error("zero TrustedProxies trusts someone")
	}
	def, err := ParseTrustedProxies(nil, "")
	if err != nil || def.Header() != HeaderClientCert {
		t.Errorf("default header = %q, %v", def.Header(), err)
	}
	if tp, err := ParseTrustedProxies(nil, "ssl-client-cert"); err != nil || tp.Header() != HeaderSSLClientCert {
		t.Errorf("ssl-client-cert header = %q, %v", tp.Header(), err)
	}
	_, err = ParseTrustedProxies([]string{"10.0.0.0/33", "not-an-ip", "10.0.0.1"}, "")
	if err == nil || !strings.Contains(err.Error(), "10.0.0.0/33") || !strings.Contains(err.Error(), "not-an-ip") {
		t.Errorf("want both bad entries reported, got %v", err)
	}
	if _, err := ParseTrustedProxies(nil, "X-Client-Cert"); err == nil {
		t.Error("unknown header accepted")
	}
}

func TestPeerAddr(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.5:41000"
	r.Header.Set("X-Forwarded-For", "1.2.3.4")
	if got := PeerAddr(r); got != netip.MustParseAddr("10.0.0.5") {
		t.Errorf("PeerAddr = %v", got)
	}
	r.RemoteAddr = "garbage"
	if PeerAddr(r).IsValid() {
		t.Error("PeerAddr of garbage is valid")
	}
}

func TestClientCertificate(t *testing.T) {
	client, victim, proxyCert := newCert(t, "client"), newCert(t, "victim"), newCert(t, "proxy")
	proxy := netip.MustParseAddr("10.0.0.2")
	stranger := netip.MustParseAddr("203.0.113.9")
	trusted := func(header string) TrustedProxies {
		return must(ParseTrustedProxies([]string{"10.0.0.0/24"}, header))
	}
	tlsState := func(c *x509.Certificate) *tls.ConnectionState {
		return &tls.ConnectionState{PeerCertificates: []*x509.Certificate{c}}
	}
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	sum := sha256.Sum256(client.Raw)
	clientHash := hex.EncodeToString(sum[:])
	xfcc := `By=spiffe://cluster.local/ns/rt/sa/rt;Hash=` + clientHash + `;Cert="` + escapePEM(pemOf(client), false) + `";Subject="CN=client,O=Example\, Inc.";URI=spiffe://cluster.local/ns/c/sa/c`
	rfc9440 := ":" + base64.StdEncoding.EncodeToString(client.Raw) + ":"

	for _, tc := range []struct {
		name    string
		cs      *tls.ConnectionState
		h       http.Header
		peer    netip.Addr
		trusted TrustedProxies
		want    *x509.Certificate // nil: an ErrInvalidToken error
	}{
		{"direct TLS client", tlsState(client), nil, stranger, trusted(""), client},
		{"no TLS, no proxy", nil, nil, stranger, trusted(""), nil},
		{"untrusted peer: forwarded certificate ignored", tlsState(client), hdr(HeaderClientCert, ":"+base64.StdEncoding.EncodeToString(victim.Raw)+":"), stranger, trusted(""), client},
		{"untrusted peer without TLS: forwarded certificate ignored", nil, hdr(HeaderClientCert, ":"+base64.StdEncoding.EncodeToString(victim.Raw)+":"), stranger, trusted(""), nil},
		{"untrusted peer: every header kind ignored", nil, hdr(HeaderXFCC, xfcc, HeaderSSLClientCert, escapePEM(pemOf(victim), false)), stranger, trusted(HeaderXFCC), nil},
		{"zero TrustedProxies: forwarded certificate ignored", nil, hdr(HeaderClientCert, rfc9440), proxy, TrustedProxies{}, nil},
		{"trusted proxy: RFC 9440 Client-Cert", tlsState(proxyCert), hdr(HeaderClientCert, rfc9440), proxy, trusted(""), client},
		{"trusted proxy, IPv4-mapped peer", nil, hdr(HeaderClientCert, rfc9440), netip.MustParseAddr("::ffff:10.0.0.2"), trusted(""), client},
		{"trusted proxy: XFCC with Cert and Hash", nil, hdr(HeaderXFCC, xfcc), proxy, trusted(HeaderXFCC), client},
		{"trusted proxy: XFCC with Cert only", nil, hdr(HeaderXFCC, `Cert="`+escapePEM(pemOf(client), true)+`"`), proxy, trusted(HeaderXFCC), client},
		{"trusted proxy: ssl-client-cert", nil, hdr("ssl-client-cert", escapePEM(pemOf(client), false)), proxy, trusted(HeaderSSLClientCert), client},
		{"trusted proxy: ssl-client-cert fully encoded", nil, hdr("ssl-client-cert", escapePEM(pemOf(client), true)), proxy, trusted(HeaderSSLClientCert), client},
		{"trusted proxy without header: proxy's own TLS cert not used", tlsState(proxyCert), nil, proxy, trusted(""), nil},
		{"trusted proxy: only the configured header is read", nil, hdr(HeaderClientCert, rfc9440), proxy, trusted(HeaderXFCC), nil},
		{"trusted proxy: header repeated", nil, hdr(HeaderClientCert, rfc9440, HeaderClientCert, ":"+base64.StdEncoding.EncodeToString(victim.Raw)+":"), proxy, trusted(""), nil},
		{"Client-Cert without colons", nil, hdr(HeaderClientCert, base64.StdEncoding.EncodeToString(client.Raw)), proxy, trusted(""), nil},
		{"Client-Cert not base64", nil, hdr(HeaderClientCert, ":!!!:"), proxy, trusted(""), nil},
		{"Client-Cert not a certificate", nil, hdr(HeaderClientCert, ":"+base64.StdEncoding.EncodeToString([]byte("hello"))+":"), proxy, trusted(""), nil},
		{"XFCC Hash does not match Cert", nil, hdr(HeaderXFCC, strings.Replace(xfcc, clientHash, strings.Repeat("0", 64), 1)), proxy, trusted(HeaderXFCC), nil},
		{"XFCC with two elements", nil, hdr(HeaderXFCC, `Cert="`+escapePEM(pemOf(victim), false)+`",`+xfcc), proxy, trusted(HeaderXFCC), nil},
		{"XFCC with Hash only", nil, hdr(HeaderXFCC, "Hash="+clientHash), proxy, trusted(HeaderXFCC), nil},
		{"XFCC with two Certs", nil, hdr(HeaderXFCC, `Cert="`+escapePEM(pemOf(victim), false)+`";`+xfcc), proxy, trusted(HeaderXFCC), nil},
		{"XFCC unterminated quote", nil, hdr(HeaderXFCC, `Cert="abc`), proxy, trusted(HeaderXFCC), nil},
		{"ssl-client-cert with a chain", nil, hdr("ssl-client-cert", escapePEM(pemOf(client)+pemOf(victim), false)), proxy, trusted(HeaderSSLClientCert), nil},
		{"ssl-client-cert not PEM", nil, hdr("ssl-client-cert", url.PathEscape("hello")), proxy, trusted(HeaderSSLClientCert), nil},
		{"ssl-client-cert bad escape", nil, hdr("ssl-client-cert", "%zz"), proxy, trusted(HeaderSSLClientCert), nil},
		{"oversized header", nil, hdr(HeaderClientCert, ":"+strings.Repeat("A", maxForwardedCertSize)+":"), proxy, trusted(""), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ClientCertificate(tc.cs, tc.h, tc.peer, tc.trusted)
			if tc.want == nil {
				if err == nil || !errors.Is(err, ErrInvalidToken) {
					t.Fatalf("ClientCertificate = %v, %v; want ErrInvalidToken", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ClientCertificate: %v", err)
			}
			if !got.Equal(tc.want) {
				t.Fatalf("got certificate %q, want %q", got.Subject.CommonName, tc.want.Subject.CommonName)
			}
		})
	}
}

// TestForwardedCertificateFromUntrustedPeer is the end-to-end case of the
// issue: a token bound to the victim's certificate, presented by a client
// whose direct connection is not a trusted proxy, with the victim's
// (public) certificate in a forwarded header, is rejected.
func TestForwardedCertificateFromUntrustedPeer(t *testing.T) {
	victim, attacker := newCert(t, "victim"), newCert(t, "attacker")
	tokenX5t := CertThumbprint(victim)
	trusted := must(ParseTrustedProxies([]string{"10.0.0.0/24"}, HeaderXFCC))
	h := http.Header{}
	h.Set(HeaderXFCC, `Cert="`+escapePEM(pemOf(victim), false)+`"`)
	h.Set(HeaderClientCert, ":"+base64.StdEncoding.EncodeToString(victim.Raw)+":")
	h.Set("Ssl-Client-Cert", escapePEM(pemOf(victim), false))

	for name, cs := range map[string]*tls.ConnectionState{
		"attacker with own TLS certificate": {PeerCertificates: []*x509.Certificate{attacker}},
		"attacker without TLS certificate":  nil,
	} {
		t.Run(name, func(t *testing.T) {
			cert, err := ClientCertificate(cs, h, netip.MustParseAddr("203.0.113.9"), trusted)
			if err == nil {
				err = CheckCertBinding(cert, tokenX5t)
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("binding accepted or wrong error: %v", err)
			}
		})
	}
	// From the trusted proxy, the same header is believed.
	cert, err := ClientCertificate(nil, h, netip.MustParseAddr("10.0.0.3"), trusted)
	if err != nil || CheckCertBinding(cert, tokenX5t) != nil {
		t.Fatalf("trusted proxy: %v", err)
	}
}
