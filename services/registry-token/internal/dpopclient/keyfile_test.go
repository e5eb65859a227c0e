package dpopclient

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreateKey(t *testing.T) {
	for _, name := range []string{"client.jwk", "client.pem", "sub/dir/client.json"} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), name)
			k, created, err := LoadOrCreateKey(file)
			if err != nil || !created {
				t.Fatalf("create: %v, created %v", err, created)
			}
			info, err := os.Stat(file)
			if err != nil || info.Mode().Perm() != 0o600 {
				t.Fatalf("key file mode: %v %v", info.Mode().Perm(), err)
			}
			data, _ := os.ReadFile(file)
			if isPEM := strings.HasPrefix(string(data), "-----BEGIN PRIVATE KEY-----"); isPEM != strings.HasSuffix(name, ".pem") {
				t.Errorf("format of %s: %.30q", name, data)
			}
			again, created, err := LoadOrCreateKey(file)
			if err != nil || created || again.JKT != k.JKT || again.Alg != "ES256" {
				t.Fatalf("reload: %v, created %v, jkt %s vs %s, alg %s", err, created, again.JKT, k.JKT, again.Alg)
			}
		})
	}
}

func TestParseKeyRejects(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"public PEM":  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		"public JWK":  []byte(`{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`),
		"not a key":   []byte("hello"),
		"empty":       nil,
		"broken JSON": []byte(`{"kty":`),
	} {
		if _, err := ParseKey(data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
