package dpop

import (
	"bytes"
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// maxHTULength bounds the work done on a URI; a proof is at most 8 KiB anyway.
const maxHTULength = 4096

var errBadURI = errors.New("dpop: malformed http(s) URI")

// normalizeHTU returns the comparison form of an http(s) URI (RFC 9449 §4.3,
// step 9): query and fragment removed, then RFC 3986 §6.2.2 syntax-based and
// §6.2.3 scheme-based normalization:
//
//   - scheme and host lower-cased; IPv6 literals in canonical form;
//   - the default port (80 for http, 443 for https) and an empty port removed;
//   - percent-encoded unreserved characters decoded, other percent-encodings
//     upper-cased (so %2F stays %2F and never becomes a path separator);
//   - dot segments removed (RFC 3986 §5.2.4), an empty path becomes "/".
//
// Trailing slashes and empty segments are significant ("/a" != "/a/").
// Userinfo, percent-encoded hosts, zones and characters outside RFC 3986
// are rejected rather than guessed at.
func normalizeHTU(raw string) (string, error) {
	if len(raw) > maxHTULength {
		return "", errBadURI
	}
	if i := strings.IndexByte(raw, '#'); i >= 0 {
		raw = raw[:i]
	}
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		raw = raw[:i]
	}

	colon := strings.IndexByte(raw, ':')
	if colon <= 0 {
		return "", errBadURI
	}
	scheme, ok := normalizeScheme(raw[:colon])
	if !ok {
		return "", errBadURI
	}
	rest := raw[colon+1:]
	if !strings.HasPrefix(rest, "//") {
		return "", errBadURI
	}
	rest = rest[2:]
	authority, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	host, port, ok := normalizeAuthority(authority, scheme)
	if !ok {
		return "", errBadURI
	}

	var b strings.Builder
	b.Grow(len(scheme) + 3 + len(host) + len(port) + 1 + len(path))
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(host)
	if port != "" {
		b.WriteByte(':')
		b.WriteString(port)
	}
	if path == "" {
		b.WriteByte('/')
		return b.String(), nil
	}
	prefix := b.Len()
	if !appendNormalizedPath(&b, path) {
		return "", errBadURI
	}
	out := b.String()
	if strings.Contains(out[prefix:], "/.") {
		out = out[:prefix] + removeDotSegments(out[prefix:])
	}
	return out, nil
}

func normalizeScheme(s string) (string, bool) {
	switch {
	case strings.EqualFold(s, "https"):
		return "https", true
	case strings.EqualFold(s, "http"):
		return "http", true
	}
	return "", false
}

// normalizeAuthority splits host[:port], lower-cases the host, and drops the
// scheme's default port.
func normalizeAuthority(a, scheme string) (host, port string, ok bool) {
	if a == "" || strings.IndexByte(a, '@') >= 0 || strings.IndexByte(a, '%') >= 0 {
		return "", "", false
	}
	if a[0] == '[' {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return "", "", false
		}
		addr, err := netip.ParseAddr(a[1:end])
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return "", "", false
		}
		host = "[" + addr.String() + "]"
		a = a[end+1:]
		if a != "" {
			if a[0] != ':' {
				return "", "", false
			}
			port = a[1:]
		}
	} else {
		host = a
		if i := strings.LastIndexByte(a, ':'); i >= 0 {
			host, port = a[:i], a[i+1:]
		}
		if host == "" {
			return "", "", false
		}
		for i := 0; i < len(host); i++ {
			if c := host[i]; !isUnreserved(c) && !isSubDelim(c) {
				return "", "", false
			}
		}
		host = strings.ToLower(host)
	}
	if port != "" {
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' {
				return "", "", false
			}
		}
		trimmed := strings.TrimLeft(port, "0")
		if len(trimmed) > 5 {
			return "", "", false
		}
		n, err := strconv.Atoi(trimmed)
		if err != nil || n == 0 || n > 65535 {
			return "", "", false
		}
		port = strconv.Itoa(n)
		if (scheme == "http" && n == 80) || (scheme == "https" && n == 443) {
			port = ""
		}
	}
	return host, port, true
}

// appendNormalizedPath validates an absolute path (pchar and "/") and writes
// it with unreserved percent-encodings decoded and the rest upper-cased.
func appendNormalizedPath(b *strings.Builder, p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '%':
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return false
			}
			d := unhex(p[i+1])<<4 | unhex(p[i+2])
			if isUnreserved(d) {
				b.WriteByte(d)
			} else {
				b.WriteByte('%')
				b.WriteByte(upperHex(p[i+1]))
				b.WriteByte(upperHex(p[i+2]))
			}
			i += 2
		case c == '/' || c == ':' || c == '@' || isUnreserved(c) || isSubDelim(c):
			b.WriteByte(c)
		default:
			return false
		}
	}
	return true
}

// removeDotSegments implements RFC 3986 §5.2.4 for an absolute path.
func removeDotSegments(in string) string {
	out := make([]byte, 0, len(in))
	popSegment := func() {
		if i := bytes.LastIndexByte(out, '/'); i >= 0 {
			out = out[:i]
		} else {
			out = out[:0]
		}
	}
	for in != "" {
		switch {
		case strings.HasPrefix(in, "../"):
			in = in[3:]
		case strings.HasPrefix(in, "./"):
			in = in[2:]
		case strings.HasPrefix(in, "/./"):
			in = in[2:]
		case in == "/.":
			in = "/"
		case strings.HasPrefix(in, "/../"):
			in = in[3:]
			popSegment()
		case in == "/..":
			in = "/"
			popSegment()
		case in == "." || in == "..":
			in = ""
		default:
			start := 0
			if in[0] == '/' {
				start = 1
			}
			end := len(in)
			if i := strings.IndexByte(in[start:], '/'); i >= 0 {
				end = start + i
			}
			out = append(out, in[:end]...)
			in = in[end:]
		}
	}
	if len(out) == 0 {
		return "/"
	}
	return string(out)
}

func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isSubDelim(c byte) bool {
	return strings.IndexByte("!$&'()*+,;=", c) >= 0
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func upperHex(c byte) byte {
	if c >= 'a' && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}
