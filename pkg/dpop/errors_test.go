package dpop

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestErrorSentinels(t *testing.T) {
	e := ErrInvalidDPoPProof.WithDescription("custom").WithNonce("n").WithStatus(400).WithCause(ErrReplayed)
	if ErrInvalidDPoPProof.Description == "custom" || ErrInvalidDPoPProof.Nonce != "" || ErrInvalidDPoPProof.Status != http.StatusUnauthorized || ErrInvalidDPoPProof.Unwrap() != nil {
		t.Fatal("With... modified the sentinel")
	}
	if e.Code != "invalid_dpop_proof" || e.Description != "custom" || e.Nonce != "n" || e.Status != 400 {
		t.Fatalf("copy = %+v", e)
	}
	wrapped := fmt.Errorf("handler: %w", e)
	if !errors.Is(wrapped, ErrInvalidDPoPProof) || !errors.Is(wrapped, ErrReplayed) {
		t.Error("errors.Is through wrapping failed")
	}
	if errors.Is(wrapped, ErrInvalidToken) || errors.Is(ErrUseDPoPNonce, ErrInvalidDPoPProof) {
		t.Error("errors.Is matched another code")
	}
	if !errors.Is(ErrInvalidToken.WithDescription("x"), &Error{Code: "invalid_token"}) {
		t.Error("errors.Is does not compare codes")
	}
	var got *Error
	if !errors.As(wrapped, &got) || got.Nonce != "n" {
		t.Error("errors.As failed")
	}
	if s := e.Error(); !strings.Contains(s, "invalid_dpop_proof") || !strings.Contains(s, "custom") || !strings.Contains(s, "replayed") {
		t.Errorf("Error() = %q", s)
	}
	for _, s := range []*Error{ErrInvalidRequest, ErrInvalidToken, ErrInsufficientScope, ErrInvalidDPoPProof, ErrUseDPoPNonce, ErrTemporarilyUnavailable} {
		if s.Code == "" || s.Description == "" || s.Status == 0 {
			t.Errorf("incomplete sentinel %+v", s)
		}
	}
}

func TestChallenge(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Challenge
		want string
	}{
		{"bare bearer", Challenge{Scheme: SchemeBearer}, `Bearer`},
		{"bearer with realm and scope", Challenge{Scheme: SchemeBearer, Realm: "registry", Scope: "registry.token.issue"}, `Bearer realm="registry", scope="registry.token.issue"`},
		{"dpop error with algs", func() Challenge {
			c := NewChallenge(SchemeDPoP, ErrInvalidDPoPProof.WithDescription("The DPoP proof is too old."))
			c.Algs = []string{"ES256", "EdDSA"}
			return c
		}(), `DPoP error="invalid_dpop_proof", error_description="The DPoP proof is too old.", algs="ES256 EdDSA"`},
		{"algs only for DPoP", Challenge{Scheme: SchemeBearer, Algs: []string{"ES256"}}, `Bearer`},
		{"wrapped error", NewChallenge(SchemeBearer, fmt.Errorf("x: %w", ErrInsufficientScope)), `Bearer error="insufficient_scope", error_description="The access token does not grant the required scope."`},
		{"plain error adds nothing", NewChallenge(SchemeBearer, errors.New("boom")), `Bearer`},
		{"quotes and backslashes stripped", Challenge{Scheme: SchemeBearer, Realm: `a"b\c`, ErrorDescription: `say "hi"\`}, `Bearer realm="abc", error_description="say hi"`},
		{"CR LF stripped", Challenge{Scheme: SchemeDPoP, Error: "invalid_token\r\nSet-Cookie: x=1"}, `DPoP error="invalid_tokenSet-Cookie: x=1"`},
		{"non-ASCII and controls stripped", Challenge{Scheme: SchemeBearer, Realm: "r\u00e9alm\x00\x7f\t"}, `Bearer realm="ralm"`},
		{"scheme sanitized", Challenge{Scheme: "DPoP\r\nX: y", Realm: "r"}, `DPoPXy realm="r"`},
		{"empty scheme", Challenge{Realm: "r"}, `Bearer realm="r"`},
		{"alg names sanitized", Challenge{Scheme: SchemeDPoP, Algs: []string{`ES256"`, "", "Ed DSA"}}, `DPoP algs="ES256 EdDSA"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.c.String()
			if got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
			for i := 0; i < len(got); i++ {
				if c := got[i]; c < 0x20 || c > 0x7e {
					t.Fatalf("byte %#x in header value", c)
				}
			}
		})
	}
}
