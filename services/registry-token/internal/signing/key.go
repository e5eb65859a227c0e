// Package signing loads the registry token signing key (PEM or PKCS#12),
// derives its algorithm and key id, and signs registry tokens.
package signing

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"software.sslmate.com/src/go-pkcs12"
)

// SampleMarker is the line that marks the shipped sample key. A key file
// carrying it is for local testing only: the service logs a loud warning,
// and a group/other-readable mode is only warned about (git does not keep
// file modes, so a fresh checkout cannot hold the sample at 0600).
const SampleMarker = "STELLAOPS SAMPLE KEY - LOCAL TESTING ONLY - DO NOT USE IN PRODUCTION"

// ErrKeyPermissions is returned for a non-sample key file that others may
// access, or group members beyond what KeyModeAllowed accepts.
var ErrKeyPermissions = errors.New("signing key file is accessible by group or others (chmod 600 it; a root-owned key read by a non-root service may be 0440)")

// Options say where the key is and how to open it.
type Options struct {
	File     string
	Password string // PKCS#12 password (already read from keyPasswordFile)
	KeyID    string // empty: RFC 7638 thumbprint
}

// Key is a loaded signing key.
type Key struct {
	signer  crypto.Signer
	private jwk.Key
	public  jwk.Key
	alg     jwa.SignatureAlgorithm
	kid     string
	x5c     []string // base64 DER, leaf first
	sample  bool
	// ModeWarning is set when the sample key has loose permissions.
	ModeWarning string
}

// Algorithm is the JWS algorithm of tokens signed with the key.
func (k *Key) Algorithm() string { return k.alg.String() }

// KeyID is the kid of the key.
func (k *Key) KeyID() string { return k.kid }

// IsSample reports whether the key is the shipped sample key.
func (k *Key) IsSample() bool { return k.sample }

// HasCertificate reports whether an x5c chain is sent in token headers.
func (k *Key) HasCertificate() bool { return len(k.x5c) > 0 }

// Load reads and checks the key file. A key file that group or others may
// access is still decoded, so that every problem of the key (mode,
// password, content) is reported at once.
func Load(o Options) (*Key, error) {
	info, err := os.Stat(o.File)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	data, err := os.ReadFile(o.File)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	sample := bytes.Contains(data, []byte(SampleMarker))
	var (
		modeWarning string
		modeErr     error
	)
	if perm := info.Mode().Perm(); !KeyModeAllowed(perm, fileOwner(info), os.Geteuid()) {
		if sample {
			modeWarning = fmt.Sprintf("sample signing key has mode %#o (group/other access)", perm)
		} else {
			modeErr = fmt.Errorf("signing key %s has mode %#o: %w", o.File, perm, ErrKeyPermissions)
		}
	}
	var (
		priv  crypto.PrivateKey
		certs []*x509.Certificate
	)
	if isPKCS12(o.File, data) {
		priv, certs, err = decodePKCS12(data, o.Password)
	} else {
		priv, certs, err = decodePEM(data)
	}
	if err != nil {
		return nil, errors.Join(modeErr, fmt.Errorf("signing key %s: %w", o.File, err))
	}
	k, err := newKey(priv, certs, o.KeyID)
	if err != nil {
		return nil, errors.Join(modeErr, fmt.Errorf("signing key %s: %w", o.File, err))
	}
	if modeErr != nil {
		return nil, modeErr
	}
	k.sample, k.ModeWarning = sample, modeWarning
	return k, nil
}

// NewKey wraps an in-memory key (tests, tools). kid empty: thumbprint.
func NewKey(priv crypto.Signer, kid string) (*Key, error) {
	return newKey(priv, nil, kid)
}

func isPKCS12(name string, data []byte) bool {
	ext := strings.ToLower(filepath.Ext(name))
	if ext == ".pfx" || ext == ".p12" {
		return true
	}
	return !bytes.Contains(data, []byte("-----BEGIN"))
}

func decodePKCS12(data []byte, password string) (crypto.PrivateKey, []*x509.Certificate, error) {
	priv, cert, chain, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		return nil, nil, fmt.Errorf("PKCS#12: %w", err)
	}
	certs := []*x509.Certificate{}
	if cert != nil {
		certs = append(certs, cert)
	}
	return priv, append(certs, chain...), nil
}

// decodePEM takes the first private key block (PKCS#8, SEC 1 EC or PKCS#1
// RSA) and any CERTIFICATE blocks, in file order.
func decodePEM(data []byte) (crypto.PrivateKey, []*x509.Certificate, error) {
	var (
		priv  crypto.PrivateKey
		certs []*x509.Certificate
	)
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch b.Type {
		case "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY":
			if priv != nil {
				return nil, nil, errors.New("more than one private key")
			}
			if x509.IsEncryptedPEMBlock(b) { //nolint:staticcheck // detect only, never decrypt legacy PEM
				return nil, nil, errors.New("encrypted PEM keys are not supported; use PKCS#12")
			}
			k, err := parsePrivateKey(b)
			if err != nil {
				return nil, nil, err
			}
			priv = k
		case "ENCRYPTED PRIVATE KEY":
			return nil, nil, errors.New("encrypted PKCS#8 is not supported; use PKCS#12")
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("certificate: %w", err)
			}
			certs = append(certs, c)
		}
	}
	if priv == nil {
		return nil, nil, errors.New("no PRIVATE KEY block found")
	}
	return priv, certs, nil
}

func parsePrivateKey(b *pem.Block) (crypto.PrivateKey, error) {
	switch b.Type {
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(b.Bytes)
	}
	return x509.ParsePKCS8PrivateKey(b.Bytes)
}

// algorithmFor picks the JWS algorithm from the key type.
func algorithmFor(priv crypto.PrivateKey) (jwa.SignatureAlgorithm, error) {
	switch k := priv.(type) {
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			return jwa.ES256, nil
		case elliptic.P384():
			return jwa.ES384, nil
		case elliptic.P521():
			return jwa.ES512, nil
		}
		return "", fmt.Errorf("unsupported EC curve %s", k.Curve.Params().Name)
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return "", fmt.Errorf("RSA key of %d bits is too small (minimum 2048)", k.N.BitLen())
		}
		return jwa.RS256, nil
	case ed25519.PrivateKey:
		return jwa.EdDSA, nil
	}
	return "", fmt.Errorf("unsupported key type %T", priv)
}

func newKey(priv crypto.PrivateKey, certs []*x509.Certificate, kid string) (*Key, error) {
	alg, err := algorithmFor(priv)
	if err != nil {
		return nil, err
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key type %T cannot sign", priv)
	}
	if len(certs) > 0 && !publicKeysEqual(certs[0].PublicKey, signer.Public()) {
		return nil, errors.New("the first certificate does not match the private key")
	}
	private, err := jwk.FromRaw(priv)
	if err != nil {
		return nil, fmt.Errorf("jwk: %w", err)
	}
	public, err := jwk.PublicKeyOf(private)
	if err != nil {
		return nil, fmt.Errorf("jwk: %w", err)
	}
	if kid == "" {
		tp, err := public.Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("thumbprint: %w", err)
		}
		kid = base64.RawURLEncoding.EncodeToString(tp)
	}
	x5c := make([]string, 0, len(certs))
	for _, c := range certs {
		x5c = append(x5c, base64.StdEncoding.EncodeToString(c.Raw))
	}
	for _, k := range []jwk.Key{private, public} {
		if err := k.Set(jwk.KeyIDKey, kid); err != nil {
			return nil, err
		}
		if err := k.Set(jwk.AlgorithmKey, alg); err != nil {
			return nil, err
		}
	}
	if err := public.Set(jwk.KeyUsageKey, jwk.ForSignature); err != nil {
		return nil, err
	}
	return &Key{signer: signer, private: private, public: public, alg: alg, kid: kid, x5c: x5c}, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}
