package dpop

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// Headers a TLS-terminating proxy may use to forward the client
// certificate. TrustedProxies names the one its proxies set.
const (
	// HeaderClientCert is RFC 9440's Client-Cert: a structured-field byte
	// sequence, ":" base64(DER) ":".
	HeaderClientCert = "Client-Cert"
	// HeaderXFCC is Envoy's X-Forwarded-Client-Cert: elements of
	// key=value pairs; Cert= holds the URL-encoded PEM, Hash= the hex
	// SHA-256 of the DER.
	HeaderXFCC = "X-Forwarded-Client-Cert"
	// HeaderSSLClientCert is the header nginx is usually configured to set
	// from $ssl_client_escaped_cert: the URL-encoded PEM.
	HeaderSSLClientCert = "Ssl-Client-Cert"
)

// maxForwardedCertSize bounds a forwarded certificate header.
const maxForwardedCertSize = 32 << 10

// CertThumbprint returns the RFC 8705 §3.1 x5t#S256 value of cert:
// base64url(SHA-256(DER)), no padding.
func CertThumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return b64.EncodeToString(sum[:])
}

// CheckCertBinding checks that cert is the certificate an mTLS-bound
// access token is bound to: its thumbprint must equal the token's
// cnf["x5t#S256"] (compared in constant time). A nil cert or an empty
// x5t fails with ErrInvalidToken.
func CheckCertBinding(cert *x509.Certificate, x5tS256 string) error {
	if cert == nil {
		return ErrInvalidToken.WithDescription("The access token requires a client certificate.")
	}
	if x5tS256 == "" {
		return ErrInvalidToken.WithDescription("The access token is not certificate-bound.")
	}
	if subtle.ConstantTimeCompare([]byte(CertThumbprint(cert)), []byte(x5tS256)) != 1 {
		return ErrInvalidToken.WithDescription("The client certificate does not match the access token.")
	}
	return nil
}

// TrustedProxies is the set of direct peers (TLS-terminating proxies)
// whose forwarded client-certificate header is believed, and the name of
// that one header. The zero value trusts no one.
//
// Only the configured header is read: a proxy passes other headers
// through from the client unchanged, so accepting any of the known
// formats would let a client forge one. The proxy must overwrite (or
// strip) that header on every request.
type TrustedProxies struct {
	prefixes []netip.Prefix
	header   string
}

// ParseTrustedProxies parses CIDRs ("10.0.0.0/8", "2001:db8::/32") or
// single addresses, and the forwarded-certificate header the proxies set:
// HeaderClientCert (the default when header is ""), HeaderXFCC or
// HeaderSSLClientCert, matched case-insensitively.
func ParseTrustedProxies(cidrs []string, header string) (TrustedProxies, error) {
	var t TrustedProxies
	switch h := http.CanonicalHeaderKey(strings.TrimSpace(header)); h {
	case "":
		t.header = HeaderClientCert
	case HeaderClientCert, HeaderXFCC, HeaderSSLClientCert:
		t.header = h
	default:
		return TrustedProxies{}, fmt.Errorf("dpop: unsupported client certificate header %q (use %s, %s or %s)", header, HeaderClientCert, HeaderXFCC, HeaderSSLClientCert)
	}
	var problems []error
	for _, s := range cidrs {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			t.prefixes = append(t.prefixes, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
			a = a.Unmap()
			t.prefixes = append(t.prefixes, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		problems = append(problems, fmt.Errorf("dpop: trusted proxy %q is not a CIDR or IP address", s))
	}
	if err := errors.Join(problems...); err != nil {
		return TrustedProxies{}, err
	}
	return t, nil
}

// Contains reports whether addr is a trusted proxy. IPv4-mapped IPv6
// addresses match their IPv4 form.
func (t TrustedProxies) Contains(addr netip.Addr) bool {
	addr = addr.Unmap().WithZone("")
	for _, p := range t.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Header returns the forwarded-certificate header the proxies set.
func (t TrustedProxies) Header() string { return t.header }

// PeerAddr returns the address of the direct peer of r (r.RemoteAddr), for
// ClientCertificate. It never looks at X-Forwarded-For.
func PeerAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}

// ClientCertificate returns the client certificate of a request for the
// binding check of an mTLS-bound token:
//
//   - when peer (the direct peer, see PeerAddr) is in trusted, the
//     certificate the proxy forwarded in trusted.Header(); the TLS state
//     is not used, since on that connection the client is the proxy;
//   - otherwise the leaf certificate of cs (nil when the request did not
//     come over TLS); forwarded headers are ignored.
//
// It fails with ErrInvalidToken when there is no certificate, and when a
// forwarded header is malformed, repeated, or ambiguous.
func ClientCertificate(cs *tls.ConnectionState, h http.Header, peer netip.Addr, trusted TrustedProxies) (*x509.Certificate, error) {
	if !trusted.Contains(peer) {
		if cs == nil || len(cs.PeerCertificates) == 0 {
			return nil, ErrInvalidToken.WithDescription("No client certificate was presented.")
		}
		return cs.PeerCertificates[0], nil
	}
	values := h.Values(trusted.header)
	switch {
	case len(values) == 0 || values[0] == "":
		return nil, ErrInvalidToken.WithDescription("No client certificate was presented.")
	case len(values) > 1:
		return nil, forwardedErr(errors.New("header repeated"))
	case len(values[0]) > maxForwardedCertSize:
		return nil, forwardedErr(errors.New("header too large"))
	}
	var (
		cert *x509.Certificate
		err  error
	)
	switch trusted.header {
	case HeaderClientCert:
		cert, err = parseRFC9440(values[0])
	case HeaderXFCC:
		cert, err = parseXFCC(values[0])
	case HeaderSSLClientCert:
		cert, err = parseEscapedPEM(values[0])
	}
	if err != nil {
		return nil, forwardedErr(err)
	}
	return cert, nil
}

func forwardedErr(err error) error {
	return ErrInvalidToken.WithDescription("The forwarded client certificate is malformed.").WithCause(err)
}

// parseRFC9440 parses a Client-Cert value: a byte sequence ":base64:".
func parseRFC9440(v string) (*x509.Certificate, error) {
	v = strings.TrimSpace(v)
	if len(v) < 2 || v[0] != ':' || v[len(v)-1] != ':' {
		return nil, errors.New("Client-Cert is not a structured-field byte sequence")
	}
	der, err := base64.StdEncoding.DecodeString(v[1 : len(v)-1])
	if err != nil {
		return nil, fmt.Errorf("Client-Cert: %w", err)
	}
	return x509.ParseCertificate(der)
}

// parseEscapedPEM parses a URL-encoded PEM certificate (nginx
// $ssl_client_escaped_cert, Envoy's Cert=).
func parseEscapedPEM(v string) (*x509.Certificate, error) {
	// PathUnescape, not QueryUnescape: "+" is base64, not a space.
	s, err := url.PathUnescape(strings.TrimSpace(v))
	if err != nil {
		return nil, err
	}
	block, rest := pem.Decode([]byte(s))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	if strings.TrimSpace(string(rest)) != "" {
		// A chain or trailing data: only the client's leaf is expected.
		return nil, errors.New("more than one PEM block")
	}
	return x509.ParseCertificate(block.Bytes)
}

// parseXFCC parses an X-Forwarded-Client-Cert value holding exactly one
// element (the proxy must sanitize the header: SANITIZE_SET). Its Cert is
// used; a Hash, when present, must match it.
func parseXFCC(v string) (*x509.Certificate, error) {
	elems, err := splitXFCC(v)
	if err != nil {
		return nil, err
	}
	if len(elems) != 1 {
		return nil, fmt.Errorf("X-Forwarded-Client-Cert has %d elements, want 1", len(elems))
	}
	var certs, hashes []string
	for _, kv := range elems[0] {
		switch {
		case strings.EqualFold(kv[0], "Cert"):
			certs = append(certs, kv[1])
		case strings.EqualFold(kv[0], "Hash"):
			hashes = append(hashes, kv[1])
		}
	}
	if len(certs) != 1 || len(hashes) > 1 {
		return nil, errors.New("X-Forwarded-Client-Cert needs exactly one Cert (and at most one Hash)")
	}
	cert, err := parseEscapedPEM(certs[0])
	if err != nil {
		return nil, err
	}
	if len(hashes) == 1 {
		want, err := hex.DecodeString(hashes[0])
		sum := sha256.Sum256(cert.Raw)
		if err != nil || subtle.ConstantTimeCompare(want, sum[:]) != 1 {
			return nil, errors.New("X-Forwarded-Client-Cert Hash does not match Cert")
		}
	}
	return cert, nil
}

// splitXFCC splits an XFCC value into elements (",") of key=value pairs
// (";"), honouring double-quoted values with backslash escapes.
func splitXFCC(v string) ([][][2]string, error) {
	var (
		elems [][][2]string
		pairs [][2]string
		cur   strings.Builder
		key   string
		inKey = true
		quote bool
	)
	flushPair := func() error {
		val := cur.String()
		cur.Reset()
		if inKey {
			if strings.TrimSpace(val) == "" {
				return nil // empty pair, e.g. a trailing ";"
			}
			return errors.New("X-Forwarded-Client-Cert pair without =")
		}
		pairs = append(pairs, [2]string{strings.TrimSpace(key), strings.TrimSpace(val)})
		inKey = true
		return nil
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case quote && c == '\\' && i+1 < len(v):
			i++
			cur.WriteByte(v[i])
		case c == '"' && !inKey:
			quote = !quote
		case quote:
			cur.WriteByte(c)
		case c == '=' && inKey:
			key = cur.String()
			cur.Reset()
			inKey = false
		case c == ';' || c == ',':
			if err := flushPair(); err != nil {
				return nil, err
			}
			if c == ',' {
				elems = append(elems, pairs)
				pairs = nil
			}
		default:
			cur.WriteByte(c)
		}
	}
	if quote {
		return nil, errors.New("X-Forwarded-Client-Cert has an unterminated quote")
	}
	if err := flushPair(); err != nil {
		return nil, err
	}
	elems = append(elems, pairs)
	return elems, nil
}
