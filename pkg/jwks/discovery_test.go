package jwks

import (
	"context"
	"net/http"
	"testing"

	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
)

// TestJWKSURIMoved: when the JWKS at the discovered jwks_uri cannot be
// fetched any more, discovery is asked again and the jwks_uri it names
// now is followed (keys would else be dropped after MaxStale, for good,
// until a restart); an unchanged jwks_uri that fails stays a failure.
func TestJWKSURIMoved(t *testing.T) {
	first, second := ecSigner(t, "first"), ecSigner(t, "second")
	a := authoritytest.NewEmpty(t)
	a.MoveJWKS("/jwks-a")
	a.SetEntries(first.public(t, "ES256"))
	c := New(Config{Issuer: a.Issuer, MetadataURL: a.MetadataURL()})
	ctx := context.Background()
	if err := c.Refresh(ctx); err != nil || !c.Published("first") {
		t.Fatalf("first load: %v", err)
	}
	a.MoveJWKS("/jwks-b") // the old path answers 404 from now on
	a.SetEntries(second.public(t, "ES256"))
	if err := c.Refresh(ctx); err != nil {
		t.Fatalf("refresh after the jwks_uri moved: %v", err)
	}
	if !c.Published("second") || c.Published("first") {
		t.Fatal("the keys at the new jwks_uri were not loaded")
	}
	a.MoveJWKS("/jwks-gone")
	a.Fail(http.StatusNotFound)
	if err := c.Refresh(ctx); err == nil {
		t.Fatal("a refresh whose jwks_uri answers 404 succeeded")
	}
	if !c.Published("second") {
		t.Fatal("a failed refresh dropped the keys before MaxStale")
	}
}
