package callerauth

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net"
	"net/url"
	"strings"
)

// allowList holds the auth.clientCertificates entries by kind, so that each
// is compared only with names of its own kind: a DNS SAN spelled like a
// subject DN, or an e-mail SAN like a URI, never matches.
type allowList struct {
	dns, dn, email, uri map[string]bool
	ips                 []net.IP
}

// newAllowList sorts entries by their syntax: an IP address; a subject DN
// (an attribute type then "=", "CN=registry-token,O=Example"); a URI
// (a scheme, "spiffe://example.org/registry-token"); an e-mail address
// (with "@"); else a DNS name.
func newAllowList(entries []string) allowList {
	l := allowList{dns: map[string]bool{}, dn: map[string]bool{}, email: map[string]bool{}, uri: map[string]bool{}}
	for _, e := range entries {
		switch {
		case net.ParseIP(e) != nil:
			l.ips = append(l.ips, net.ParseIP(e))
		case isDN(e):
			l.dn[e] = true
		case isURI(e):
			l.uri[e] = true
		case strings.Contains(e, "@"):
			l.email[e] = true
		default:
			l.dns[strings.ToLower(e)] = true // DNS names are case-insensitive
		}
	}
	return l
}

func (l allowList) empty() bool {
	return len(l.dns)+len(l.dn)+len(l.email)+len(l.uri)+len(l.ips) == 0
}

// isDN reports whether e starts with an attribute type ("CN", "O",
// "2.5.4.3") and "=".
func isDN(e string) bool {
	typ, _, ok := strings.Cut(e, "=")
	if !ok || typ == "" {
		return false
	}
	return strings.IndexFunc(typ, notAttributeTypeRune) < 0
}

func isURI(e string) bool {
	u, err := url.Parse(e)
	return err == nil && u.Scheme != ""
}

// matches reports whether leaf's subject DN or one of its SANs is listed.
// The DN is the certificate's own RDN sequence (RFC 4514 string), not a
// rebuilt one, so repeated or multi-valued attributes are not folded away.
func (l allowList) matches(leaf *x509.Certificate) bool {
	if len(l.dn) > 0 {
		var seq pkix.RDNSequence
		if rest, err := asn1.Unmarshal(leaf.RawSubject, &seq); err == nil && len(rest) == 0 && l.dn[seq.String()] {
			return true
		}
	}
	for _, n := range leaf.DNSNames {
		if l.dns[strings.ToLower(n)] {
			return true
		}
	}
	for _, n := range leaf.EmailAddresses {
		if l.email[n] {
			return true
		}
	}
	for _, u := range leaf.URIs {
		if l.uri[u.String()] {
			return true
		}
	}
	for _, ip := range leaf.IPAddresses {
		for _, want := range l.ips {
			if ip.Equal(want) {
				return true
			}
		}
	}
	return false
}

// notAttributeTypeRune: attribute types are names ("CN") or dotted OIDs.
func notAttributeTypeRune(r rune) bool {
	switch {
	case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '-':
		return false
	}
	return true
}
