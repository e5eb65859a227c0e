package e2e

import (
	"fmt"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/stellaops/authgate/pkg/plans"
	"github.com/stellaops/authgate/services/registry-token/internal/signing"
)

// ServiceConfig is the part of the registry-token configuration (the keys
// of services/registry-token/README.md) that the harness varies between tests.
type ServiceConfig struct {
	// PublicURL is server.publicUrl, e.g. "http://localhost:8085".
	PublicURL string
	// MetadataURL is authority.metadataUrl (the dev Authority's discovery).
	MetadataURL string
	// Issuer is authority.issuer.
	Issuer string
	// Services is registry.services (the allow-list of service values).
	Services []string
	// Plans, DefaultPlan and RevokedLicenses are copied as they are.
	Plans           map[string][]plans.Rule
	DefaultPlan     string
	RevokedLicenses []string
	// KeyFile is signing.keyFile.
	KeyFile string
	// Keys, when set, is signing.keys (and KeyFile is left out).
	Keys []SigningKey
	// Watch sets reload.watch (with a short debounce): the service reloads
	// when the file changes.
	Watch bool
	// TrustedProxies is server.trustedProxies.
	TrustedProxies []string
	// ClientCAFile, CertFile and KeyFileTLS enable the TLS listener with
	// client certificates (server.tls) when set.
	CertFile, TLSKeyFile, ClientCAFile string
	// LogLevel is log.level (default "warn": a decision line per request
	// would dominate a load run).
	LogLevel string
	// RedisURL, when set, selects the redis replay cache
	// (authority.replayCache); empty: the memory cache.
	RedisURL string
	// ReplayCache, when set, is the whole authority.replayCache section
	// (the Sentinel and Cluster backends); it wins over RedisURL.
	ReplayCache map[string]any
}

// SigningKey is one entry of signing.keys.
type SigningKey struct {
	File      string `yaml:"file"`
	Status    string `yaml:"status"`
	RetiredAt string `yaml:"retiredAt,omitempty"`
}

// Realm returns the registry.realm value for the config.
func (c ServiceConfig) Realm() string { return c.PublicURL + "/token" }

// yamlDoc renders c as a registry-token configuration file (the layout of
// configs/registry-token.yaml).
func (c ServiceConfig) yamlDoc() ([]byte, error) {
	level := c.LogLevel
	if level == "" {
		level = "warn"
	}
	revoked := c.RevokedLicenses
	if revoked == nil {
		revoked = []string{}
	}
	server := map[string]any{"publicUrl": c.PublicURL}
	if len(c.TrustedProxies) > 0 {
		server["trustedProxies"] = c.TrustedProxies
	}
	if c.CertFile != "" {
		server["tls"] = map[string]any{"certFile": c.CertFile, "keyFile": c.TLSKeyFile, "clientCaFile": c.ClientCAFile}
	}
	doc := map[string]any{
		"log":    map[string]any{"level": level},
		"server": server,
		"authority": map[string]any{
			"issuer":               c.Issuer,
			"metadataUrl":          c.MetadataURL,
			"requireHttpsMetadata": false,
			"audiences":            []string{"registry"},
			"requiredScopes":       []string{"registry.token.issue"},
			"senderConstraint":     "required",
			"dpop":                 map[string]any{"maxAge": "60s", "clockSkew": "5s", "algorithms": []string{"ES256", "EdDSA"}},
			"replayCache":          c.replayCache(),
		},
		"signing": c.signing(),
		"registry": map[string]any{
			"realm":    c.Realm(),
			"services": c.Services,
		},
		"plans":           c.Plans,
		"defaultPlan":     c.DefaultPlan,
		"revokedLicenses": revoked,
	}
	if c.Watch {
		doc["reload"] = map[string]any{"watch": true, "debounce": "100ms"}
	}
	return yaml.Marshal(doc)
}

func (c ServiceConfig) signing() map[string]any {
	s := map[string]any{"issuer": SigningIssuer, "lifetime": "5m"}
	if len(c.Keys) > 0 {
		s["keys"] = c.Keys
	} else {
		s["keyFile"] = c.KeyFile
	}
	return s
}

func (c ServiceConfig) replayCache() map[string]any {
	if c.ReplayCache != nil {
		return c.ReplayCache
	}
	if c.RedisURL != "" {
		return map[string]any{"backend": "redis", "redisUrl": c.RedisURL}
	}
	return map[string]any{"backend": "memory"}
}

// SigningIssuer is the iss of registry tokens in harness configs; the
// registry's auth.token.issuer must match it.
const SigningIssuer = "registry-token"

// writeConfig writes c as dir/registry-token.yaml, replacing it in one
// rename (a running service with reload.watch never reads half a file).
func writeConfig(dir string, c ServiceConfig) (string, error) {
	b, err := c.yamlDoc()
	if err != nil {
		return "", fmt.Errorf("e2e: render config: %w", err)
	}
	path := filepath.Join(dir, "registry-token.yaml")
	if err := os.WriteFile(path+".tmp", b, 0o600); err != nil {
		return "", fmt.Errorf("e2e: write config: %w", err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return "", fmt.Errorf("e2e: write config: %w", err)
	}
	return path, nil
}

// writeSigningKey generates a fresh P-256 key and writes it as a PKCS#8 PEM
// file with mode 0600.
func writeSigningKey(dir string) (string, error) {
	path := filepath.Join(dir, "signing.pem")
	if err := signing.WriteNewKey(path); err != nil {
		return "", fmt.Errorf("e2e: %w", err)
	}
	return path, nil
}
