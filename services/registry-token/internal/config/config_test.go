package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/services/registry-token/internal/config"
)

const valid = `
server: {publicUrl: "https://registry-token.example.com"}
authority:
  issuer: "https://authority.example.com"
  metadataUrl: "https://authority.example.com/.well-known/openid-configuration"
registry: {realm: "https://registry-token.example.com/token", services: [registry.localhost]}
plans:
  community: [{repository: "stella-ops/public/*"}]
  enterprise: [{repository: "stella-ops/*/*", actions: [pull, push]}]
`

func TestShippedConfigIsValid(t *testing.T) {
	cfg, err := config.Load(filepath.Join("..", "..", "..", "..", "configs", "registry-token.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DefaultPlan != "community" || cfg.Signing.Lifetime != 5*time.Minute || cfg.Server.Addr != "0.0.0.0:8085" {
		t.Fatalf("%+v", cfg)
	}
}

func TestDefaultsAndEnvOverrides(t *testing.T) {
	cfg, err := config.LoadData([]byte(valid), []string{
		"REGISTRY_TOKEN_SIGNING__LIFETIME=10m",
		"REGISTRY_TOKEN_DEFAULTPLAN=enterprise",
		"registry_token_authority__audiences=registry,api",
		"REGISTRY_TOKEN_AUTHORITY__DPOP__MAXAGE=30s",
		"OTHER_VAR=ignored",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Signing.Lifetime != 10*time.Minute || cfg.DefaultPlan != "enterprise" {
		t.Fatalf("lifetime %s plan %s", cfg.Signing.Lifetime, cfg.DefaultPlan)
	}
	if strings.Join(cfg.Authority.Audiences, ",") != "registry,api" || cfg.Authority.DPoP.MaxAge != 30*time.Second {
		t.Fatalf("audiences %v maxAge %s", cfg.Authority.Audiences, cfg.Authority.DPoP.MaxAge)
	}
	if cfg.Authority.RequiredScopes[0] != config.DefaultRequiredScope || cfg.Authority.SenderConstraint != "required" ||
		cfg.Signing.KeyFile != config.DefaultKeyFile || !cfg.Authority.RequireHTTPSMetadata {
		t.Fatalf("defaults not applied: %+v", cfg.Authority)
	}
}

func TestEveryProblemIsListed(t *testing.T) {
	bad := `
log: {level: loud}
server: {publicUrl: "ftp://x", tls: {clientCaFile: ca.pem}, trustedProxies: ["10.0.0.0/33", "not-an-ip"]}
authority:
  issuer: "https://authority.example.com"
  metadataUrl: "http://authority.example.com/.well-known/openid-configuration"
  senderConstraint: sometimes
  dpop: {algorithms: [none, HS256, ES256], maxAge: 0s}
  replayCache: {backend: redis}
signing: {keyPassword: a, keyPasswordFile: /p, lifetime: 1s}
registry: {realm: "not a url"}
plans:
  community: [{repository: "stella-ops/**"}, {repository: "x/y", actions: [fly]}]
defaultPlan: gold
`
	_, err := config.LoadData([]byte(bad), nil)
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{
		"log.level", "server.publicUrl", "server.tls.clientCaFile", "server.trustedProxies[0]", "server.trustedProxies[1]",
		"authority.metadataUrl", "requireHttpsMetadata", "authority.senderConstraint", `"none"`, `"HS256"`,
		"authority.dpop.maxAge", "authority.replayCache.redisUrl", "keyPasswordFile", "signing.lifetime",
		"registry.realm", `"stella-ops/**"`, `"fly"`, `defaultPlan: "gold"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problem %q not reported in:\n%v", want, err)
		}
	}
}

func TestUnknownKeysAreRejected(t *testing.T) {
	_, err := config.LoadData([]byte(valid+"\nsigning: {keyfile: x}\nextra: 1\n"), []string{"REGISTRY_TOKEN_NOPE=1"})
	if err == nil {
		t.Fatal("unknown keys accepted")
	}
	for _, want := range []string{`"signing.keyfile"`, `"extra"`, "REGISTRY_TOKEN_NOPE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s not reported: %v", want, err)
		}
	}
}

func TestRedactedYAML(t *testing.T) {
	cfg, err := config.LoadData([]byte(valid), []string{
		"REGISTRY_TOKEN_SIGNING__KEYPASSWORD=hunter2-secret",
		"REGISTRY_TOKEN_AUTHORITY__REPLAYCACHE__BACKEND=redis",
		"REGISTRY_TOKEN_AUTHORITY__REPLAYCACHE__REDISURL=redis://user:s3cret-pw@redis:6379/0",
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if strings.Contains(s, "hunter2-secret") || strings.Contains(s, "s3cret-pw") {
		t.Fatalf("secret printed:\n%s", s)
	}
	if !strings.Contains(s, "lifetime: 5m0s") || !strings.Contains(s, "keyPassword: REDACTED") {
		t.Fatalf("unexpected rendering:\n%s", s)
	}
	// The printed config loads back to the same values (minus secrets).
	back, err := config.LoadData(out, nil)
	if err != nil {
		t.Fatalf("printed config does not load: %v\n%s", err, s)
	}
	if back.Signing.Lifetime != cfg.Signing.Lifetime || back.Authority.ReplayCache.Backend != "redis" {
		t.Fatalf("round trip: %+v", back)
	}
}

func FuzzLoadData(f *testing.F) {
	f.Add([]byte(valid), "REGISTRY_TOKEN_SIGNING__LIFETIME=10m")
	if b, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "configs", "registry-token.yaml")); err == nil {
		f.Add(b, "")
	}
	f.Add([]byte("plans: {a: [{repository: '*'}]}\ndefaultPlan: a"), "REGISTRY_TOKEN_PLANS__A=x")
	f.Add([]byte(valid+"signing:\n  keys:\n    - {file: a.pem, status: active}\n    - {file: b.pem, status: retired, retiredAt: \"2026-12-01T10:00:00.5+02:00\"}\nreload: {watch: true, debounce: 1s}\n"),
		"REGISTRY_TOKEN_AUTHORITY__MAXTOKENLIFETIME=1h")
	f.Fuzz(func(t *testing.T, data []byte, env string) {
		cfg, err := config.LoadData(data, strings.Split(env, "\n"))
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("empty error")
			}
			return
		}
		// Anything accepted must be printable and load back.
		out, err := cfg.YAML()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := config.LoadData(out, nil); err != nil && cfg.Signing.KeyPassword == "" && cfg.Authority.DPoP.NonceKey == "" {
			t.Fatalf("accepted config does not round-trip: %v\n%s", err, out)
		}
	})
}
