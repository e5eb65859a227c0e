package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// RealmsEnv names the environment variable that lists trusted realms
// (space-separated), used when no --realm is given.
const RealmsEnv = "REGISTRY_TOKEN_HELPER_REALMS"

// parseRealm checks a realm: an absolute http(s) URL with a host, no user
// information and no fragment. A query is kept (the request's parameters
// join it).
func parseRealm(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("realm %q is not a URL", s)
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "", u.Hostname() == "", u.Opaque != "":
		return nil, fmt.Errorf("realm %q is not an absolute http(s) URL", s)
	case u.User != nil:
		return nil, fmt.Errorf("realm %q carries user information", s)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return nil, fmt.Errorf("realm %q carries a fragment", s)
	}
	return u, nil
}

// trustedRealms returns the realms the user trusts: every --realm, else
// the space-separated list in RealmsEnv.
func trustedRealms(flags []string, getenv func(string) string) ([]*url.URL, error) {
	src := flags
	if len(src) == 0 {
		src = strings.Fields(getenv(RealmsEnv))
	}
	var out []*url.URL
	var errs []error
	for _, s := range src {
		u, err := parseRealm(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, u)
	}
	return out, errors.Join(errs...)
}

// sameRealm compares two realms: the scheme and host case-insensitively,
// the scheme's default port left out, path and query exactly.
func sameRealm(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(hostPort(a), hostPort(b)) &&
		a.EscapedPath() == b.EscapedPath() && a.RawQuery == b.RawQuery
}

// hostPort is u's host with the scheme's default port left out.
func hostPort(u *url.URL) string {
	port := u.Port()
	if (port == "443" && strings.EqualFold(u.Scheme, "https")) || (port == "80" && strings.EqualFold(u.Scheme, "http")) {
		port = ""
	}
	if port == "" {
		return u.Hostname()
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// chooseRealm returns the trusted realm the registry's challenge names.
// A challenge naming any other realm is refused: a registry under someone
// else's control (a typo, a plain-HTTP answer changed on the way) could
// else name the real registry-token and receive the registry token.
func chooseRealm(trusted []*url.URL, challenged string) (string, error) {
	names := make([]string, len(trusted))
	for i, t := range trusted {
		names[i] = t.String()
	}
	c, err := parseRealm(challenged)
	if err == nil {
		for _, t := range trusted {
			if sameRealm(t, c) {
				return t.String(), nil
			}
		}
	}
	if len(trusted) == 0 {
		return "", fmt.Errorf("%w: the registry's challenge names realm %q, and no realm is trusted: if that is your registry-token, give --realm %s (or list it in %s)",
			errUsage, challenged, challenged, RealmsEnv)
	}
	return "", fmt.Errorf("the registry's challenge names realm %q, not a trusted realm (%s): the OpTok is not sent there; check --registry, or trust that realm with --realm",
		challenged, strings.Join(names, ", "))
}
