package callerauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// issued is a certificate as a client CA might issue it: the subject and
// SANs are the requester's choice.
func issued(t *testing.T, subject pkix.Name, mod func(*x509.Certificate)) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: subject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if mod != nil {
		mod(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func verifiedRequest(cert *x509.Certificate) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/v1/check", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}, VerifiedChains: [][]*x509.Certificate{{cert}}}
	return r
}

var oidCN = asn1.ObjectIdentifier{2, 5, 4, 3}

// TestCertificateCallerAllowListIsExact: an allow-list entry matches only
// a name of its own kind, exactly (DNS names ignoring case, as DNS does),
// against the certificate's own subject: a SAN spelled like an allowed
// DN, a repeated CN that a rebuilt DN would fold away, a differently cased
// or extended DN, a prefix or suffix of an allowed name are all refused.
func TestCertificateCallerAllowListIsExact(t *testing.T) {
	a, err := New(context.Background(), Config{ClientCertificates: []string{
		"CN=registry-token,O=Example", "registry-token.svc", "svc@example.com", "spiffe://example.org/registry-token", "10.0.0.7",
	}})
	if err != nil {
		t.Fatal(err)
	}
	spiffe, _ := url.Parse("spiffe://example.org/registry-token")
	spiffeLonger, _ := url.Parse("spiffe://example.org/registry-token/x")
	dnAsURI, _ := url.Parse("CN=registry-token,O=Example")
	good := map[string]*x509.Certificate{
		"subject DN": issued(t, pkix.Name{CommonName: "registry-token", Organization: []string{"Example"}}, nil),
		"DNS SAN":    issued(t, pkix.Name{CommonName: "x"}, func(c *x509.Certificate) { c.DNSNames = []string{"Registry-Token.svc"} }),
		"e-mail SAN": issued(t, pkix.Name{CommonName: "x"}, func(c *x509.Certificate) { c.EmailAddresses = []string{"svc@example.com"} }),
		"URI SAN":    issued(t, pkix.Name{CommonName: "x"}, func(c *x509.Certificate) { c.URIs = []*url.URL{spiffe} }),
		"IP SAN":     issued(t, pkix.Name{CommonName: "x"}, func(c *x509.Certificate) { c.IPAddresses = []net.IP{net.ParseIP("10.0.0.7").To16()} }),
	}
	for name, c := range good {
		wantStatus(t, a.Authenticate(verifiedRequest(c)), 0)
		_ = name
	}
	bad := map[string]*x509.Certificate{
		"DN spelled as a DNS SAN": issued(t, pkix.Name{CommonName: "x"}, func(c *x509.Certificate) { c.DNSNames = []string{"CN=registry-token,O=Example"} }),
		"DN spelled as a URI SAN": issued(t, pkix.Name{CommonName: "x"}, func(c *x509.Certificate) { c.URIs = []*url.URL{dnAsURI} }),
		"e-mail as a DNS SAN":     issued(t, pkix.Name{CommonName: "x"}, func(c *x509.Certificate) { c.DNSNames = []string{"svc@example.com"} }),
		"URI as a DNS SAN":        issued(t, pkix.Name{CommonName: "x"}, func(c *x509.Certificate) { c.DNSNames = []string{"spiffe://example.org/registry-token"} }),
		"IP as a DNS SAN":         issued(t, pkix.Name{CommonName: "x"}, func(c *x509.Certificate) { c.DNSNames = []string{"10.0.0.7"} }),
		"DNS name as an e-mail":   issued(t, pkix.Name{CommonName: "x"}, func(c *x509.Certificate) { c.EmailAddresses = []string{"registry-token.svc"} }),
		"repeated CN": issued(t, pkix.Name{Organization: []string{"Example"},
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidCN, Value: "intruder"}, {Type: oidCN, Value: "registry-token"}}}, nil),
		"DN of another case":     issued(t, pkix.Name{CommonName: "Registry-Token", Organization: []string{"Example"}}, nil),
		"DN with more":           issued(t, pkix.Name{CommonName: "registry-token", Organization: []string{"Example"}, OrganizationalUnit: []string{"x"}}, nil),
		"CN holding the DN":      issued(t, pkix.Name{CommonName: "registry-token,O=Example"}, nil),
		"DNS suffix":             issued(t, pkix.Name{CommonName: "x"}, func(c *x509.Certificate) { c.DNSNames = []string{"registry-token.svc.evil"} }),
		"DNS wildcard":           issued(t, pkix.Name{CommonName: "x"}, func(c *x509.Certificate) { c.DNSNames = []string{"*.svc"} }),
		"URI prefix":             issued(t, pkix.Name{CommonName: "x"}, func(c *x509.Certificate) { c.URIs = []*url.URL{spiffeLonger} }),
		"e-mail of another case": issued(t, pkix.Name{CommonName: "x"}, func(c *x509.Certificate) { c.EmailAddresses = []string{"SVC@example.com"} }),
		"other IP":               issued(t, pkix.Name{CommonName: "x"}, func(c *x509.Certificate) { c.IPAddresses = []net.IP{net.ParseIP("10.0.0.70")} }),
	}
	for name, c := range bad {
		if err := a.Authenticate(verifiedRequest(c)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
