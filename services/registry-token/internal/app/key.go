package app

import (
	"fmt"
	"os"
	"strings"

	"github.com/stellaops/authgate/services/registry-token/internal/config"
	"github.com/stellaops/authgate/services/registry-token/internal/signing"
)

// loadKey reads the signing key with its password from keyPassword (which
// the REGISTRY_TOKEN_SIGNING__KEYPASSWORD variable overrides) or
// keyPasswordFile.
func loadKey(s config.Signing) (*signing.Key, error) {
	password := s.KeyPassword
	if s.KeyPasswordFile != "" {
		b, err := os.ReadFile(s.KeyPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("signing.keyPasswordFile: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	return signing.Load(signing.Options{File: s.KeyFile, Password: password, KeyID: s.KeyID})
}
