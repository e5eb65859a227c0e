package dpopclient

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// LoadOrCreateKey reads the private DPoP key in file, a JWK (JSON)
// or a PEM file (PKCS#8, SEC 1 or PKCS#1). When file does not exist it
// generates a P-256 key and writes it with mode 0600, as PEM when the name
// ends in ".pem" and as a JWK otherwise; created reports that.
func LoadOrCreateKey(file string) (k *Key, created bool, err error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		k, err := createKey(file)
		return k, err == nil, err
	}
	if err != nil {
		return nil, false, err
	}
	k, err = ParseKey(data)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", file, err)
	}
	return k, false, nil
}

// ParseKey parses a private key given as a JWK or PEM and picks its
// proof algorithm: ES256/ES384/ES512 by curve, EdDSA for Ed25519, PS256
// for RSA.
func ParseKey(data []byte) (*Key, error) {
	var k jwk.Key
	var err error
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
		k, err = jwk.ParseKey(trimmed)
	} else {
		k, err = jwk.ParseKey(data, jwk.WithPEM(true))
	}
	if err != nil {
		return nil, fmt.Errorf("not a JWK or PEM private key: %w", err)
	}
	if ok, err := jwk.IsPrivateKey(k); err != nil || !ok {
		return nil, errors.New("the key is public; a DPoP client needs its private key")
	}
	var raw any
	if err := k.Raw(&raw); err != nil {
		return nil, err
	}
	alg, err := proofAlgorithm(raw)
	if err != nil {
		return nil, err
	}
	return wrapKey(k, alg)
}

func proofAlgorithm(raw any) (string, error) {
	switch key := raw.(type) {
	case *ecdsa.PrivateKey:
		switch key.Curve {
		case elliptic.P256():
			return "ES256", nil
		case elliptic.P384():
			return "ES384", nil
		case elliptic.P521():
			return "ES512", nil
		}
	case ed25519.PrivateKey:
		return "EdDSA", nil
	case *rsa.PrivateKey:
		if key.N.BitLen() < 2048 {
			return "", errors.New("RSA keys need at least 2048 bits")
		}
		return "PS256", nil
	}
	return "", fmt.Errorf("unsupported key type %T", raw)
}

func createKey(file string) (*Key, error) {
	k, err := NewKey()
	if err != nil {
		return nil, err
	}
	var data []byte
	if strings.HasSuffix(strings.ToLower(file), ".pem") {
		var raw ecdsa.PrivateKey
		if err := k.Key.Raw(&raw); err != nil {
			return nil, err
		}
		if data, err = pkcs8PEM(&raw); err != nil {
			return nil, err
		}
	} else if data, err = json.MarshalIndent(k.Key, "", "  "); err != nil {
		return nil, err
	}
	return k, writeSecret(file, data)
}

func pkcs8PEM(key any) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// writeSecret creates file (and its directory, 0700) with mode 0600; it
// never overwrites an existing file.
func writeSecret(file string, data []byte) error {
	if dir := filepath.Dir(file); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
