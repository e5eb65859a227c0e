package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/services/registry-token/internal/dpopclient"
)

// tokenResponse is registry-token's answer.
type tokenResponse struct {
	Token       string `json:"token"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
}

// fetch asks the realm for a registry token, presenting the OpTok with a
// DPoP proof (dpop.Transport, which also answers a nonce challenge).
func fetch(ctx context.Context, client *http.Client, o *options, optok string, key *dpopclient.Key) (*tokenResponse, error) {
	u, err := url.Parse(o.realm)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("realm %q is not an http(s) URL", o.realm)
	}
	// A realm may carry a query of its own: the parameters join it.
	q := u.Query()
	q.Set("service", o.service)
	for _, s := range o.scopes {
		q.Add("scope", s)
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("realm %q: %w", o.realm, err)
	}
	c := *client
	c.Transport = &dpop.Transport{Base: client.Transport, Realm: o.realm, AccessToken: optok, Key: key.Key, Alg: key.Alg}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var p struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
			Reason      string `json:"reason"`
		}
		if json.Unmarshal(body, &p) == nil && p.Error != "" {
			return nil, fmt.Errorf("%s refused: %d %s (%s): %s", o.realm, resp.StatusCode, p.Error, p.Reason, p.Description)
		}
		return nil, fmt.Errorf("%s answered %d", o.realm, resp.StatusCode)
	}
	var t tokenResponse
	if err := json.Unmarshal(body, &t); err != nil {
		return nil, fmt.Errorf("%s: the answer is not a token response: %w", o.realm, err)
	}
	if t.Token == "" {
		t.Token = t.AccessToken
	}
	if strings.Count(t.Token, ".") != 2 {
		return nil, fmt.Errorf("%s: the answer holds no token", o.realm)
	}
	return &t, nil
}

// warnPartial tells, on stderr, which requested access the token does not
// carry (the plan grants less: a partial grant is not an error).
func warnPartial(stderr io.Writer, requested []string, t *tokenResponse) {
	parts := strings.Split(t.Token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return
	}
	var claims struct {
		Access []struct {
			Type    string   `json:"type"`
			Name    string   `json:"name"`
			Actions []string `json:"actions"`
		} `json:"access"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return
	}
	granted := map[string]bool{}
	for _, a := range claims.Access {
		for _, act := range a.Actions {
			granted[a.Type+":"+a.Name+":"+act] = true
		}
	}
	for _, s := range requested {
		i := strings.LastIndexByte(s, ':')
		if i < 0 {
			continue
		}
		for _, act := range strings.Split(s[i+1:], ",") {
			if !granted[s[:i]+":"+act] {
				fmt.Fprintf(stderr, "registry-token-helper: not granted: %s:%s\n", s[:i], act)
			}
		}
	}
}

// discover reads the realm and service of the registry's Bearer
// challenge (GET /v2/ without credentials).
func discover(ctx context.Context, client *http.Client, registryURL string) (realm, service string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, registryURL, nil)
	if err != nil {
		return "", "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("asking the registry for its token realm: %w", err)
	}
	_ = resp.Body.Close()
	for _, v := range resp.Header.Values("WWW-Authenticate") {
		scheme, params, ok := strings.Cut(v, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			continue
		}
		p := challengeParams(params)
		if p["realm"] != "" {
			return p["realm"], p["service"], nil
		}
	}
	return "", "", fmt.Errorf("%s answered %d without a Bearer challenge: give --realm and --service", registryURL, resp.StatusCode)
}

// challengeParams parses auth-params: name="quoted" or name=token,
// comma-separated.
func challengeParams(s string) map[string]string {
	out := map[string]string{}
	for s = strings.TrimSpace(s); s != ""; {
		name, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		name = strings.ToLower(strings.TrimSpace(name))
		var val string
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(rest) && rest[i] != '"'; i++ {
				if rest[i] == '\\' && i+1 < len(rest) {
					i++
				}
				b.WriteByte(rest[i])
			}
			val, rest = b.String(), rest[min(i+1, len(rest)):]
		} else {
			val, rest, _ = strings.Cut(rest, ",")
			rest = "," + rest
		}
		out[name] = strings.TrimSpace(val)
		_, s, _ = strings.Cut(rest, ",")
		s = strings.TrimSpace(s)
	}
	return out
}
