// Package smoke is the operator pre-flight of the ops-warden runbook in one
// command: GET /healthz, one check that must be allowed, and one check
// with TTL 999 that must be denied with ttl_out_of_bounds. It prints only
// non-secret evidence: actor, decision id, effect, reason, backend.
package smoke

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/stellaops/authgate/services/flex-auth/internal/checkapi"
)

// DenyTTL is the TTL of the deny check (the runbook's --ttl 999).
const DenyTTL = 999

// Expected outcomes.
const (
	AllowReason = "signing_policy_matched"
	DenyReason  = "ttl_out_of_bounds"
)

// Options configure Run.
type Options struct {
	URL     string // base URL, e.g. http://127.0.0.1:18090
	Actor   string
	Subject string // optional, e.g. iam:<actor>
	Client  *http.Client
	Out     io.Writer
}

var decisionID = regexp.MustCompile(`^decision:[0-9a-f]{16}$`)

// ErrSurprise is wrapped by every unexpected outcome.
var ErrSurprise = errors.New("smoke failed")

// Run performs the three steps, printing one line per step, and returns
// an error wrapping ErrSurprise at the first unexpected outcome.
func Run(ctx context.Context, o Options) error {
	base := strings.TrimRight(o.URL, "/")
	if err := health(ctx, o, base); err != nil {
		return err
	}
	allow := checkapi.Request{Actor: o.Actor, Subject: o.Subject}
	if err := check(ctx, o, base, "allow", allow, "allow", AllowReason); err != nil {
		return err
	}
	ttl := int64(DenyTTL)
	deny := checkapi.Request{Actor: o.Actor, Subject: o.Subject, TTLHours: &ttl}
	return check(ctx, o, base, "deny", deny, "deny", DenyReason)
}

func health(ctx context.Context, o Options, base string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return fmt.Errorf("%w: healthz: %v", ErrSurprise, err)
	}
	resp, err := o.Client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: healthz: %v", ErrSurprise, err)
	}
	defer resp.Body.Close()
	var h struct {
		Status string `json:"status"`
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: healthz: HTTP %d", ErrSurprise, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&h); err != nil || h.Status == "" {
		return fmt.Errorf("%w: healthz: not a flex-auth health document", ErrSurprise)
	}
	fmt.Fprintf(o.Out, "healthz: HTTP 200 status=%s\n", h.Status)
	return nil
}

func check(ctx context.Context, o Options, base, step string, body checkapi.Request, effect, reason string) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/check", bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%w: %s check: %v", ErrSurprise, step, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := o.Client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s check: %v", ErrSurprise, step, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var p struct {
			Error string `json:"error"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&p)
		return fmt.Errorf("%w: %s check: HTTP %d %s", ErrSurprise, step, resp.StatusCode, p.Error)
	}
	var d checkapi.Decision
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&d); err != nil {
		return fmt.Errorf("%w: %s check: response is not a decision envelope", ErrSurprise, step)
	}
	fmt.Fprintf(o.Out, "%s: actor=%s decision_id=%s effect=%s reason=%s backend=%s\n",
		step, d.Actor, d.DecisionID, d.Effect, d.Reason, d.Backend)
	switch {
	case !decisionID.MatchString(d.DecisionID):
		return fmt.Errorf("%w: %s check: decision id %q is not decision:<16 hex>", ErrSurprise, step, d.DecisionID)
	case d.Actor != o.Actor:
		return fmt.Errorf("%w: %s check: decision is for actor %q", ErrSurprise, step, d.Actor)
	case d.Effect != effect || d.Reason != reason:
		return fmt.Errorf("%w: %s check: got %s/%s, want %s/%s", ErrSurprise, step, d.Effect, d.Reason, effect, reason)
	}
	return nil
}

// NewClient returns the HTTP client of the pre-flight: timeout bounds each
// request and, when caFile is not empty, an https URL's certificate is
// verified against the CAs in that PEM file instead of the system roots
// (a flex-auth serving a certificate from a private CA).
func NewClient(timeout time.Duration, caFile string) (*http.Client, error) {
	c := &http.Client{Timeout: timeout}
	if caFile == "" {
		return c, nil
	}
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("--ca-file: no PEM certificates in %s", caFile)
	}
	c.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	return c, nil
}
