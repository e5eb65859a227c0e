package authority_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
	"github.com/stellaops/authgate/services/registry-token/internal/authority"
)

// authority.requireAccessTokenType accepts only OpToks whose header typ is
// the RFC 9068 media type (at+jwt, or application/at+jwt, in any case);
// off (the default), any typ is accepted.
func TestRequireAccessTokenType(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	auth := authoritytest.New(t)
	client := func(require bool) *authority.Client {
		c := authority.New(authority.Config{
			HTTPClient: &http.Client{}, Issuer: auth.Issuer, MetadataURL: auth.MetadataURL(),
			Audiences: []string{"registry"}, ClockSkew: 30 * time.Second, RefreshInterval: time.Hour,
			MinRefreshGap: 10 * time.Second, RequireAccessTokenType: require, CacheSize: 100,
			Now: func() time.Time { return now },
		})
		if err := c.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		return c
	}
	strict, lax := client(true), client(false)
	for _, tc := range []struct {
		typ string
		ok  bool // accepted when required
	}{
		{"at+jwt", true},
		{"AT+JWT", true},
		{"application/at+jwt", true},
		{"Application/AT+jwt", true},
		{"", false},
		{"JWT", false},
		{"jwt", false},
		{"application/jwt", false},
		{"at+jwt ", false},
		{"dpop+jwt", false},
		{"application/at+jwt; charset=utf-8", false},
		{"x-application/at+jwt", false},
		{"at+jwt/application", false},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			// A distinct sub per case keeps the verified-token cache out of it.
			tok := authoritytest.SignTyp(t, auth.Current(), jwa.ES256, tc.typ, auth.Claims("user-"+tc.typ, now))
			_, err := strict.Validate(context.Background(), tok)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("typ %q refused while required: %v", tc.typ, err)
			case !tc.ok && !errors.Is(err, authority.ErrTokenType):
				t.Fatalf("typ %q: got %v, want ErrTokenType", tc.typ, err)
			}
			if _, err := lax.Validate(context.Background(), tok); err != nil {
				t.Fatalf("typ %q refused while not required: %v", tc.typ, err)
			}
		})
	}
}
