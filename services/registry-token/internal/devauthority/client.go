package devauthority

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/stellaops/authgate/pkg/dpop"
)

// TokenRequest is what a client asks the token endpoint for (see
// Authority.ServeHTTP); empty fields take the endpoint's defaults.
type TokenRequest struct {
	Subject, Plan, License string
	Scopes                 []string
	Audience               []string
	TTL                    time.Duration
}

// RequestToken asks the token endpoint at tokenURL for an OpTok bound to
// key (a private JWK) with a fresh DPoP proof signed with alg. It is the
// client side of the development flow ("registry-token-dev token").
func RequestToken(ctx context.Context, c *http.Client, tokenURL string, key jwk.Key, alg string, tr TokenRequest) (TokenResponse, error) {
	proof, err := dpop.NewProof(key, alg, http.MethodPost, tokenURL, "", "", time.Now())
	if err != nil {
		return TokenResponse{}, err
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	set := func(k, v string) {
		if v != "" {
			form.Set(k, v)
		}
	}
	set("sub", tr.Subject)
	set("plan", tr.Plan)
	set("license", tr.License)
	set("scope", strings.Join(tr.Scopes, " "))
	for _, a := range tr.Audience {
		form.Add("audience", a)
	}
	if tr.TTL > 0 {
		form.Set("ttl", tr.TTL.String())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return TokenResponse{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(dpop.HeaderDPoP, proof)
	resp, err := c.Do(req)
	if err != nil {
		return TokenResponse{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return TokenResponse{}, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(body, &e)
		return TokenResponse{}, fmt.Errorf("devauthority: token endpoint answered %d %s: %s", resp.StatusCode, e.Error, e.Description)
	}
	var out TokenResponse
	if err := json.Unmarshal(body, &out); err != nil || out.AccessToken == "" {
		return TokenResponse{}, fmt.Errorf("devauthority: malformed token response")
	}
	return out, nil
}
