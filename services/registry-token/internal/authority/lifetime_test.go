package authority_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
	"github.com/stellaops/authgate/services/registry-token/internal/authority"
)

// authority.maxTokenLifetime refuses OpToks whose exp - iat is longer
// than the limit, and OpToks without iat while the limit is set; without
// the limit both are accepted.
func TestMaxTokenLifetime(t *testing.T) {
	const limit = time.Hour
	now := time.Unix(1_750_000_000, 0)
	auth := authoritytest.New(t)
	client := func(maxLife time.Duration) *authority.Client {
		c := authority.New(authority.Config{
			HTTPClient: &http.Client{}, Issuer: auth.Issuer, MetadataURL: auth.MetadataURL(),
			Audiences: []string{"registry"}, ClockSkew: 30 * time.Second, RefreshInterval: time.Hour,
			MinRefreshGap: 10 * time.Second, MaxTokenLifetime: maxLife, CacheSize: 100,
			Now: func() time.Time { return now },
		})
		if err := c.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		return c
	}
	limited, unlimited := client(limit), client(0)
	for _, tc := range []struct {
		name string
		edit func(map[string]any)
		ok   bool // accepted under the limit
	}{
		{name: "exactly the limit", ok: true, edit: func(c map[string]any) {
			c["iat"] = now.Unix()
			c["exp"] = now.Add(limit).Unix()
		}},
		{name: "short", ok: true, edit: func(c map[string]any) { c["exp"] = now.Add(5 * time.Minute).Unix() }},
		{name: "one second over", edit: func(c map[string]any) {
			c["iat"] = now.Unix()
			c["exp"] = now.Add(limit + time.Second).Unix()
		}},
		{name: "ten years ahead", edit: func(c map[string]any) { c["exp"] = now.AddDate(10, 0, 0).Unix() }},
		{name: "iat backdated", edit: func(c map[string]any) {
			c["iat"] = now.Add(-2 * limit).Unix()
			c["exp"] = now.Add(time.Minute).Unix()
		}},
		{name: "no iat", edit: func(c map[string]any) {
			delete(c, "iat")
			c["exp"] = now.Add(time.Minute).Unix()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := auth.Claims("user-1", now)
			tc.edit(cl)
			tok := auth.Mint(t, cl)
			_, err := limited.Validate(context.Background(), tok)
			if tc.ok && err != nil {
				t.Fatalf("refused under the limit: %v", err)
			}
			if !tc.ok && !errors.Is(err, authority.ErrLifetime) {
				t.Fatalf("got %v, want ErrLifetime", err)
			}
			if _, err := unlimited.Validate(context.Background(), tok); err != nil {
				t.Fatalf("refused without a limit: %v", err)
			}
		})
	}
}
