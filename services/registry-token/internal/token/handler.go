// Package token implements the registry token endpoint: it authenticates
// the caller's sender-constrained Authority OpTok, applies the plan
// entitlements and issues a Docker registry bearer token.
package token

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/stellaops/authgate/pkg/dpop"
	"github.com/stellaops/authgate/pkg/plans"
	"github.com/stellaops/authgate/services/registry-token/internal/authority"
	"github.com/stellaops/authgate/services/registry-token/internal/signing"
)

// Validator validates Authority OpToks (authority.Client).
type Validator interface {
	Validate(ctx context.Context, raw string) (*authority.OpTok, error)
}

// Policy is the issuance configuration.
type Policy struct {
	Issuer   string
	Lifetime time.Duration
	// Services is the allow-list of service values (empty: any).
	Services []string
	// DefaultPlan applies when the OpTok has no stellaops:plan claim.
	DefaultPlan     string
	RevokedLicenses []string
	// RequireSenderConstraint rejects OpToks without cnf.
	RequireSenderConstraint bool
	// PolicyFailOpen keeps the plan's grant when the flex-auth Gate fails
	// (policy.failClosed: false). The zero value denies (fail-closed).
	PolicyFailOpen bool
}

// Deps are the collaborators of the handler.
type Deps struct {
	Logger    *zap.Logger
	Meter     metric.Meter
	Now       func() time.Time
	Authority Validator
	Proofs    *dpop.Verifier
	Proxies   dpop.TrustedProxies
	Signer    *signing.Signer
	Catalog   *plans.Catalog
	Policy    Policy
	// Gate, when set, is asked about every access the plan grants.
	Gate Gate
}

// Handler serves /token.
type Handler struct {
	d        Deps
	in       *instruments
	services map[string]bool
	revoked  map[string]bool
}

// New checks the dependencies and returns the handler.
func New(d Deps) (*Handler, error) {
	if d.Logger == nil || d.Meter == nil || d.Now == nil || d.Authority == nil || d.Proofs == nil || d.Signer == nil || d.Catalog == nil {
		return nil, errors.New("token: incomplete dependencies")
	}
	if _, ok := d.Catalog.Plan(d.Policy.DefaultPlan); d.Policy.DefaultPlan != "" && !ok {
		return nil, errors.New("token: default plan is not in the catalogue")
	}
	in, err := newInstruments(d.Meter)
	if err != nil {
		return nil, err
	}
	h := &Handler{d: d, in: in, services: map[string]bool{}, revoked: map[string]bool{}}
	for _, s := range d.Policy.Services {
		h.services[s] = true
	}
	for _, l := range d.Policy.RevokedLicenses {
		h.revoked[l] = true
	}
	return h, nil
}

// Register adds GET and POST /token to e.
func (h *Handler) Register(e *echo.Echo) { NewLive(h).Register(e) }

// Response is the body of a successful token request.
type Response struct {
	Token       string `json:"token"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
	IssuedAt    string `json:"issued_at"`
	// Scope is the granted scopes, space-separated: set (possibly empty)
	// for POST /token only, as OAuth2 token responses carry it.
	Scope *string `json:"scope,omitempty"`
}

// claims are the registry token's JWT claims.
type claims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  string           `json:"aud"`
	Expiry    int64            `json:"exp"`
	NotBefore int64            `json:"nbf"`
	IssuedAt  int64            `json:"iat"`
	ID        string           `json:"jti"`
	Access    []plans.Resource `json:"access"`
}

// nbfBackdate tolerates registries whose clocks run slightly behind.
const nbfBackdate = 5 * time.Second

// decision is what the decision log line records.
type decision struct {
	// credential is how the OpTok came (dpop, bearer, basic,
	// refresh_token, password; "form" for a refused form).
	credential string
	service    string
	subject    string
	plan       string
	granted    []plans.Resource
	denied     []plans.Resource
	policy     policyOutcome
}

// request is what a token request asks for, from GET's query or POST's
// form.
type request struct {
	services []string
	scopes   []string
	// form is the OpTok of the OAuth2 form (POST), if it carries one.
	form credential
}

func (h *Handler) getToken(c echo.Context) error {
	q := c.Request().URL.Query()
	return h.answer(c, nil, request{services: q["service"], scopes: q["scope"]})
}

// postToken serves the OAuth2 form of the distribution token spec:
// grant_type refresh_token (the OpTok in refresh_token) or password (the
// OpTok in password). The same rules as GET apply; no refresh token is
// ever issued.
func (h *Handler) postToken(c echo.Context) error {
	r := c.Request()
	form, err := ParseForm(r.Header.Get(echo.HeaderContentType), r.Body)
	if err != nil {
		d := decision{credential: "form"}
		err = formDenial(err)
		h.record(r.Context(), &d, err)
		return err
	}
	req := request{services: form.Service, scopes: form.Scope}
	if form.Token != "" {
		req.form = credential{raw: form.Token, via: carrier(form.GrantType)}
	}
	return h.answer(c, form, req)
}

// answer runs the decision, records it and writes the response. form is
// nil for GET.
func (h *Handler) answer(c echo.Context, form *Form, req request) error {
	var d decision
	resp, err := h.issue(c, &d, req)
	if err != nil && c.Request().Context().Err() != nil {
		// The failure may only be the client's own cancellation reaching
		// Redis or flex-auth: do not count it as their outage.
		err = deny(ReasonClientClosed, err)
	}
	h.record(c.Request().Context(), &d, err)
	if err != nil {
		return err
	}
	if form != nil {
		granted := strings.Join(scopeStrings(d.granted), " ")
		resp.Scope = &granted
	}
	hd := c.Response().Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("Pragma", "no-cache")
	if nonce, err := h.d.Proofs.NewNonce(); err == nil && nonce != "" {
		hd.Set(dpop.HeaderDPoPNonce, nonce)
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, appendResponse(make([]byte, 0, 2*len(resp.Token)+128), resp))
}

// issue runs the whole decision; d is filled as far as it got.
func (h *Handler) issue(c echo.Context, d *decision, req request) (*Response, error) {
	r := c.Request()
	if len(req.services) != 1 || req.services[0] == "" {
		return nil, deny(ReasonMissingService, nil)
	}
	d.service = req.services[0]
	if len(h.services) > 0 && !h.services[d.service] {
		return nil, deny(ReasonServiceNotAllowed, nil)
	}
	requested, err := plans.ParseScopes(req.scopes)
	switch {
	case errors.Is(err, plans.ErrTooManyScopes):
		return nil, deny(ReasonTooManyScopes, err)
	case err != nil:
		return nil, deny(ReasonInvalidScope, err)
	}

	cred, err := requestCredential(r, req.form)
	d.credential = string(cred.via)
	if err != nil {
		return nil, err
	}
	tok, err := h.authenticate(r, cred)
	if err != nil {
		return nil, err
	}
	d.subject = tok.Subject
	resp, err := h.grant(r, d, tok, requested)
	var den *Denial
	if errors.As(err, &den) {
		// A refusal after authentication answers on the scheme the
		// token is used with (the 403 challenge).
		den.DPoP = den.DPoP || tok.JKT != "" || cred.via == carrierDPoP
	}
	return resp, err
}

// grant decides what an authenticated caller gets and signs it.
func (h *Handler) grant(r *http.Request, d *decision, tok *authority.OpTok, requested []plans.Resource) (*Response, error) {
	planName := tok.Plan
	if planName == "" {
		planName = h.d.Policy.DefaultPlan
	}
	d.plan = planName
	plan, ok := h.d.Catalog.Plan(planName)
	if !ok {
		return nil, deny(ReasonUnknownPlan, nil)
	}
	if tok.License != "" && h.revoked[tok.License] {
		return nil, deny(ReasonLicenseRevoked, nil)
	}
	dec := plan.Decide(requested)
	d.granted, d.denied = dec.Granted, dec.Denied
	if err := dec.Err(); err != nil {
		return nil, deny(ReasonNotEntitled, err)
	}
	if err := h.checkPolicy(r.Context(), tok, d); err != nil {
		return nil, err
	}
	return h.sign(d)
}

func (h *Handler) sign(d *decision) (*Response, error) {
	now := h.d.Now()
	access := d.granted
	if access == nil {
		access = []plans.Resource{}
	}
	jti, err := newJTI()
	if err != nil {
		return nil, err
	}
	exp := now.Add(h.d.Policy.Lifetime)
	tok, err := h.d.Signer.SignPayload(appendClaims(make([]byte, 0, 512), &claims{
		Issuer:    h.d.Policy.Issuer,
		Subject:   d.subject,
		Audience:  d.service,
		Expiry:    exp.Unix(),
		NotBefore: now.Add(-nbfBackdate).Unix(),
		IssuedAt:  now.Unix(),
		ID:        jti,
		Access:    access,
	}))
	if err != nil {
		return nil, err
	}
	return &Response{
		Token:       tok,
		AccessToken: tok,
		ExpiresIn:   int64(h.d.Policy.Lifetime / time.Second),
		IssuedAt:    now.UTC().Format(time.RFC3339),
	}, nil
}

func newJTI() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// record writes the decision line and counts the outcome. It never logs
// a token, proof or key.
func (h *Handler) record(ctx context.Context, d *decision, err error) {
	if err == nil && d.policy.failOpen == "" && !h.d.Logger.Core().Enabled(zap.InfoLevel) {
		// The common case under load (log.level warn): count, build no line.
		h.in.issue(ctx)
		return
	}
	fields := []zap.Field{
		zap.String("credential", d.credential),
		zap.String("service", d.service),
		zap.String("subject", d.subject),
		zap.String("plan", d.plan),
		zap.Strings("granted", scopeStrings(d.granted)),
	}
	if len(d.policy.decisionIDs) > 0 {
		fields = append(fields, zap.Strings("policy_decisions", d.policy.decisionIDs))
	}
	if len(d.policy.denied) > 0 {
		fields = append(fields, zap.Strings("policy_denied", scopeStrings(d.policy.denied)))
	}
	if err == nil {
		h.in.issue(ctx)
		if d.policy.failOpen != "" {
			// policy.failClosed is false: issued without flex-auth's word.
			h.in.failOpen(ctx, d.policy.failOpen)
			fields = append(fields, zap.String("policy_fail_open", string(d.policy.failOpen)))
			h.d.Logger.Warn("token issued WITHOUT the policy check: flex-auth failed and policy.failClosed is false", fields...)
			return
		}
		h.d.Logger.Info("token issued", fields...)
		return
	}
	reason := ReasonInternal
	var den *Denial
	if errors.As(err, &den) {
		reason = den.Reason
	}
	h.in.reject(ctx, reason)
	fields = append(fields, zap.String("reason", string(reason)))
	if den != nil && den.cause != nil {
		// Why (wrong audience, expired, unknown kid...): fixed strings and
		// claim names, never the token.
		fields = append(fields, zap.String("cause", den.cause.Error()))
	}
	if len(d.denied) > 0 {
		fields = append(fields, zap.Strings("denied", scopeStrings(d.denied)))
	}
	h.d.Logger.Info("token denied", fields...)
}

func scopeStrings(rs []plans.Resource) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.String())
	}
	return out
}

// hasScheme reports whether the Authorization value uses scheme and
// returns the credentials after it.
func hasScheme(v, scheme string) (string, bool) {
	if len(v) <= len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) || v[len(scheme)] != ' ' {
		return "", false
	}
	return strings.TrimSpace(v[len(scheme)+1:]), true
}
