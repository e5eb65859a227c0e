package config

import (
	"fmt"
	"strings"
	"time"
)

// Key states of signing.keys.
const (
	// KeyNext is published in the JWKS but signs nothing yet: registries
	// learn it before it becomes active.
	KeyNext = "next"
	// KeyActive signs every token; exactly one key is active.
	KeyActive = "active"
	// KeyRetired signs nothing and stays published while tokens it signed
	// may still be valid (see RetiredUntil).
	KeyRetired = "retired"
)

// RetiredGrace is added to signing.lifetime after a key's retiredAt before
// it leaves the JWKS: the leeway registries allow on exp, and clocks that
// differ a little.
const RetiredGrace = time.Minute

// SigningKey is one key of signing.keys.
type SigningKey struct {
	File         string `koanf:"file" yaml:"file"`
	Password     string `koanf:"password" yaml:"password"`
	PasswordFile string `koanf:"passwordFile" yaml:"passwordFile"`
	// KeyID is the kid; empty: the RFC 7638 thumbprint.
	KeyID  string `koanf:"keyId" yaml:"keyId"`
	Status string `koanf:"status" yaml:"status"`
	// RetiredAt (RFC 3339) is when the key stopped signing, for a retired
	// key: it is published until RetiredAt + signing.lifetime +
	// RetiredGrace. Zero: published until it is removed from the list.
	RetiredAt time.Time `koanf:"retiredAt" yaml:"retiredAt,omitempty"`
}

// RetiredUntil is the end of the publication of a retired key: no token it
// signed is valid afterwards. Zero when RetiredAt is not set.
func (k SigningKey) RetiredUntil(lifetime time.Duration) time.Time {
	if k.RetiredAt.IsZero() {
		return time.Time{}
	}
	return k.RetiredAt.Add(lifetime + RetiredGrace)
}

// KeySet returns the configured keys: signing.keys, or the single
// signing.keyFile as the one active key.
func (s Signing) KeySet() []SigningKey {
	if len(s.Keys) > 0 {
		return s.Keys
	}
	return []SigningKey{{File: s.KeyFile, Password: s.KeyPassword, PasswordFile: s.KeyPasswordFile, KeyID: s.KeyID, Status: KeyActive}}
}

// normalize clears the default signing.keyFile when signing.keys is set:
// the shipped sample is the default of the single-key form only.
func (s *Signing) normalize() {
	if len(s.Keys) > 0 && s.KeyFile == DefaultKeyFile {
		s.KeyFile = ""
	}
}

func (s *Signing) validate() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if strings.TrimSpace(s.Issuer) == "" {
		add("signing.issuer: required")
	}
	if s.Lifetime < MinLifetime || s.Lifetime > MaxLifetime {
		add("signing.lifetime: %s is outside [%s, %s]", s.Lifetime, MinLifetime, MaxLifetime)
	}
	if len(s.Keys) == 0 {
		if s.KeyFile == "" {
			add("signing.keyFile: required (or signing.keys)")
		}
		if s.KeyPassword != "" && s.KeyPasswordFile != "" {
			add("signing.keyPassword and signing.keyPasswordFile: set at most one")
		}
		return errs
	}
	for name, v := range map[string]string{"keyFile": s.KeyFile, "keyPassword": s.KeyPassword, "keyPasswordFile": s.KeyPasswordFile, "keyId": s.KeyID} {
		if v != "" {
			add("signing.%s: not allowed with signing.keys (give each key its file, password and keyId there)", name)
		}
	}
	active := 0
	files, kids := map[string]int{}, map[string]int{}
	for i, k := range s.Keys {
		at := fmt.Sprintf("signing.keys[%d]", i)
		if strings.TrimSpace(k.File) == "" {
			add("%s.file: required", at)
		} else if j, dup := files[k.File]; dup {
			add("%s.file: %q is also signing.keys[%d]", at, k.File, j)
		} else {
			files[k.File] = i
		}
		if k.KeyID != "" {
			if j, dup := kids[k.KeyID]; dup {
				add("%s.keyId: %q is also signing.keys[%d]", at, k.KeyID, j)
			} else {
				kids[k.KeyID] = i
			}
		}
		if k.Password != "" && k.PasswordFile != "" {
			add("%s: password and passwordFile: set at most one", at)
		}
		switch k.Status {
		case KeyActive:
			active++
		case KeyNext, KeyRetired:
		case "":
			add("%s.status: required (next, active or retired)", at)
		default:
			add("%s.status: %q is not next, active or retired", at, k.Status)
		}
		if !k.RetiredAt.IsZero() && k.Status != KeyRetired {
			add("%s.retiredAt: only a retired key has one (status is %q)", at, k.Status)
		}
	}
	if active != 1 {
		add("signing.keys: exactly one key must be active, %d are", active)
	}
	return errs
}
