package signing

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// Key states in a Set (the signing.keys status values).
const (
	StatusNext    = "next"
	StatusActive  = "active"
	StatusRetired = "retired"
)

// Entry is one key of a Set with its state.
type Entry struct {
	Key    *Key
	Status string
	// RetiredUntil, for a retired key, is when it leaves the published
	// set (no token it signed is valid any more); zero: never by itself.
	RetiredUntil time.Time
}

// Published reports whether the entry is in the JWKS at now.
func (e Entry) Published(now time.Time) bool {
	return e.Status != StatusRetired || e.RetiredUntil.IsZero() || now.Before(e.RetiredUntil)
}

// Set is the signing key set: one active key signs, next and retired keys
// are only published. Immutable; a reload builds a new one.
type Set struct {
	entries []Entry
	active  *Key
	signer  *Signer
}

// NewSet checks that exactly one entry is active and that key ids are
// unique, and prepares the active key's signer.
func NewSet(entries []Entry) (*Set, error) {
	s := &Set{entries: append([]Entry(nil), entries...)}
	var errs []error
	kids := map[string]bool{}
	for _, e := range entries {
		switch e.Status {
		case StatusActive:
			if s.active != nil {
				errs = append(errs, errors.New("signing keys: more than one active key"))
			}
			s.active = e.Key
		case StatusNext, StatusRetired:
		default:
			errs = append(errs, fmt.Errorf("signing keys: status %q is not next, active or retired", e.Status))
		}
		if kids[e.Key.KeyID()] {
			errs = append(errs, fmt.Errorf("signing keys: kid %q is used by two keys (set keyId)", e.Key.KeyID()))
		}
		kids[e.Key.KeyID()] = true
	}
	if s.active == nil {
		errs = append(errs, errors.New("signing keys: no active key"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	signer, err := NewSigner(s.active)
	if err != nil {
		return nil, err
	}
	s.signer = signer
	return s, nil
}

// SingleKey is the set of one active key.
func SingleKey(k *Key) (*Set, error) {
	return NewSet([]Entry{{Key: k, Status: StatusActive}})
}

// Active is the key that signs.
func (s *Set) Active() *Key { return s.active }

// Signer signs with the active key.
func (s *Set) Signer() *Signer { return s.signer }

// Entries returns every key of the set, in configuration order.
func (s *Set) Entries() []Entry { return append([]Entry(nil), s.entries...) }

// CheckSuccessor refuses next as the set that replaces s when a kid of
// both names other key material: verifiers cache keys by kid, so tokens
// signed before the change would stop verifying (for up to
// signing.lifetime), and tokens signed after it would not verify where
// the old key is still cached. A new key needs a new keyId.
func (s *Set) CheckSuccessor(next *Set) error {
	old := map[string]*Key{}
	for _, e := range s.entries {
		old[e.Key.kid] = e.Key
	}
	var errs []error
	for _, e := range next.entries {
		prev, ok := old[e.Key.kid]
		if ok && !publicKeysEqual(prev.signer.Public(), e.Key.signer.Public()) {
			errs = append(errs, fmt.Errorf("signing keys: keyId %q now names another key than the running one: tokens it signed would stop verifying; give the new key a new keyId (add it as next, then make it active)", e.Key.kid))
		}
	}
	return errors.Join(errs...)
}

// PublicSet is the JWK Set published at now: the active key first, then
// the next and the still published retired keys in configuration order.
func (s *Set) PublicSet(now time.Time) jwk.Set {
	set := s.active.PublicSet()
	for _, e := range s.entries {
		if e.Key == s.active || !e.Published(now) {
			continue
		}
		pub, err := e.Key.public.Clone()
		if err != nil {
			pub = e.Key.public
		}
		_ = set.AddKey(pub)
	}
	return set
}

// PublicJWKS is PublicSet as indented JSON.
func (s *Set) PublicJWKS(now time.Time) ([]byte, error) {
	return json.MarshalIndent(s.PublicSet(now), "", "  ")
}
