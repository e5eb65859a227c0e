package devstack

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/stellaops/authgate/services/registry-token/internal/signing"
)

// EnsureSigningKey makes sure file holds a signing key for registry-token:
// when it does not exist, a fresh P-256 key is written as PKCS#8 PEM with
// mode 0600. It reports whether it created one.
func EnsureSigningKey(file string) (bool, error) {
	if _, err := os.Stat(file); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if dir := filepath.Dir(file); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return false, err
		}
	}
	return true, signing.WriteNewKey(file)
}
