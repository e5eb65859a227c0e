package dpop

import "testing"

func TestNormalizeHTU(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://rt.example.com/token", "https://rt.example.com/token"},
		// Case of scheme and host; the path keeps its case.
		{"HTTPS://RT.EXAMPLE.COM/Token", "https://rt.example.com/Token"},
		// Default and empty ports.
		{"https://rt.example.com:443/token", "https://rt.example.com/token"},
		{"http://rt.example.com:80/token", "http://rt.example.com/token"},
		{"https://rt.example.com:/token", "https://rt.example.com/token"},
		{"https://rt.example.com:80/token", "https://rt.example.com:80/token"},
		{"http://rt.example.com:443/token", "http://rt.example.com:443/token"},
		{"https://rt.example.com:08443/token", "https://rt.example.com:8443/token"},
		// Empty path.
		{"https://rt.example.com", "https://rt.example.com/"},
		{"https://rt.example.com?x", "https://rt.example.com/"},
		// Query and fragment stripped.
		{"https://rt.example.com/token?service=a&scope=b#f", "https://rt.example.com/token"},
		{"https://rt.example.com/token#f?x", "https://rt.example.com/token"},
		// Percent-encoding: unreserved decoded, others upper-cased, %2F kept.
		{"https://rt.example.com/%74%6F%6b%65%6E", "https://rt.example.com/token"},
		{"https://rt.example.com/%7e%2d%2E%5F", "https://rt.example.com/~-._"},
		{"https://rt.example.com/a%2fb", "https://rt.example.com/a%2Fb"},
		{"https://rt.example.com/a%20b%3a", "https://rt.example.com/a%20b%3A"},
		{"https://rt.example.com/%c3%a9", "https://rt.example.com/%C3%A9"},
		// Dot segments.
		{"https://rt.example.com/a/./b/../c", "https://rt.example.com/a/c"},
		{"https://rt.example.com/../../token", "https://rt.example.com/token"},
		{"https://rt.example.com/a/..", "https://rt.example.com/"},
		{"https://rt.example.com/a/.", "https://rt.example.com/a/"},
		{"https://rt.example.com/a/%2E%2E/token", "https://rt.example.com/token"},
		{"https://rt.example.com/.well-known/x", "https://rt.example.com/.well-known/x"},
		{"https://rt.example.com/a/..%2Fb", "https://rt.example.com/a/..%2Fb"},
		// Trailing slashes and empty segments are significant.
		{"https://rt.example.com/a/", "https://rt.example.com/a/"},
		{"https://rt.example.com//a", "https://rt.example.com//a"},
		// Sub-delims, ":" and "@" are valid path characters.
		{"https://rt.example.com/v2/a:b@c/manifests/sha256:0", "https://rt.example.com/v2/a:b@c/manifests/sha256:0"},
		// IP literals.
		{"https://127.0.0.1:8443/token", "https://127.0.0.1:8443/token"},
		{"https://[2001:DB8:0:0::1]/token", "https://[2001:db8::1]/token"},
		{"http://[::1]:80/", "http://[::1]/"},
	} {
		got, err := normalizeHTU(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("normalizeHTU(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestNormalizeHTUDistinguishes(t *testing.T) {
	for _, pair := range [][2]string{
		{"https://rt.example.com/a", "https://rt.example.com/a/"},
		{"https://rt.example.com/a%2Fb", "https://rt.example.com/a/b"},
		{"https://rt.example.com/Token", "https://rt.example.com/token"},
		{"https://rt.example.com/a%21", "https://rt.example.com/a!"},
		{"http://rt.example.com/a", "https://rt.example.com/a"},
		{"https://rt.example.com:8443/a", "https://rt.example.com/a"},
	} {
		a, errA := normalizeHTU(pair[0])
		b, errB := normalizeHTU(pair[1])
		if errA != nil || errB != nil || a == b {
			t.Errorf("%q and %q normalize to %q and %q (%v, %v): want distinct", pair[0], pair[1], a, b, errA, errB)
		}
	}
}

func TestNormalizeHTURejects(t *testing.T) {
	for _, in := range []string{
		"",
		"/token",
		"rt.example.com/token",
		"ftp://rt.example.com/token",
		"javascript:alert(1)",
		"https:/rt.example.com/token",
		"https:rt.example.com",
		"https://",
		"https:///token",
		"https://user@rt.example.com/token",
		"https://user:pass@rt.example.com/token",
		"https://rt.example.com:99999/token",
		"https://rt.example.com:0/token",
		"https://rt.example.com:-1/token",
		"https://rt.example.com:44a/token",
		"https://rt.exa%6Dple.com/token",
		"https://rt example.com/token",
		"https://[::1/token",
		"https://[fe80::1%25eth0]/token",
		"https://[127.0.0.1]/token",
		"https://[::1]x/token",
		"https://rt.example.com/a b",
		"https://rt.example.com/a%2",
		"https://rt.example.com/a%zz",
		"https://rt.example.com/\u00e9",
		"https://rt.example.com/a\\b",
		"https://rt.example.com/a\"b",
		"https://rt.example.com/a\r\nb",
		"https://rt.example.com/" + string(make([]byte, maxHTULength)),
	} {
		if got, err := normalizeHTU(in); err == nil {
			t.Errorf("normalizeHTU(%q) = %q, want an error", in, got)
		}
	}
}
