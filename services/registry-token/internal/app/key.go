package app

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/stellaops/authgate/services/registry-token/internal/config"
	"github.com/stellaops/authgate/services/registry-token/internal/signing"
)

// loadKeyEntries reads the signing keys: signing.keys, or signing.keyFile
// as the one active key. Every key with a file is loaded, so that the
// problems of all of them are reported at once, each naming its key
// (a missing file name is a configuration problem, reported there).
func loadKeyEntries(s config.Signing) ([]signing.Entry, error) {
	var (
		entries []signing.Entry
		errs    []error
	)
	for i, k := range s.KeySet() {
		if k.File == "" {
			continue
		}
		key, err := loadKey(k)
		if err != nil {
			if len(s.Keys) > 0 {
				err = fmt.Errorf("signing.keys[%d]: %w", i, err)
			}
			errs = append(errs, err)
			continue
		}
		entries = append(entries, signing.Entry{Key: key, Status: k.Status, RetiredUntil: k.RetiredUntil(s.Lifetime)})
	}
	return entries, errors.Join(errs...)
}

// loadKey reads one key with its password from password (which the
// REGISTRY_TOKEN_SIGNING__KEYPASSWORD variable overrides for keyFile) or
// passwordFile.
func loadKey(k config.SigningKey) (*signing.Key, error) {
	password := k.Password
	if k.PasswordFile != "" {
		b, err := os.ReadFile(k.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("password file: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	return signing.Load(signing.Options{File: k.File, Password: password, KeyID: k.KeyID})
}
