package jwks

import (
	"context"
	"testing"

	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
)

// Holds is true for the key a Verify used while a refresh publishes the
// same material under its kid, and false once the key is withdrawn, its
// kid names other material, or its alg changes.
func TestHoldsTheVerifyingKey(t *testing.T) {
	one, other := ecSigner(t, "k1"), ecSigner(t, "k1")
	a := authoritytest.NewEmpty(t)
	a.SetEntries(one.public(t, "ES256"))
	c := New(Config{Issuer: a.Issuer, MetadataURL: a.MetadataURL()})
	ctx := context.Background()
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := c.Verify(ctx, one.sign(t, "ES256", map[string]any{"sub": "x"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		name  string
		keys  []any
		holds bool
	}{
		{"same key again", []any{one.public(t, "ES256")}, true},
		{"same key beside a new one", []any{ecSigner(t, "k2").public(t, "ES256"), one.public(t, "ES256")}, true},
		{"alg removed", []any{one.public(t, "")}, false},
		{"kid re-published with other material", []any{other.public(t, "ES256")}, false},
		{"the key back, but a new object", []any{one.public(t, "ES256")}, false},
		{"withdrawn", []any{ecSigner(t, "k2").public(t, "ES256")}, false},
	} {
		a.SetEntries(step.keys...)
		if err := c.Refresh(ctx); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got := c.Holds(v.Kid, v.Key); got != step.holds {
			t.Fatalf("%s: Holds = %v, want %v", step.name, got, step.holds)
		}
	}
	if c.Holds("k1", nil) {
		t.Fatal("Holds of a nil key")
	}
}
