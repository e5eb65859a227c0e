package deploy_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/stellaops/authgate/deploy/internal/render"
	"github.com/stellaops/authgate/pkg/yamljson"
)

var flexAuthCallerAuth = []string{
	"networkPolicy.enabled=true",
	"config.auth.issuer=https://authority.example.com",
	"config.auth.metadataUrl=https://authority.example.com/.well-known/openid-configuration",
	"config.auth.audiences={flex-auth}",
	"config.auth.publicUrl=https://flex-auth.example.com",
}

// egressPorts lists, per egress rule of the flex-auth NetworkPolicy, its
// TCP ports and whether it names destinations.
func egressRules(t *testing.T, set []string) []networkingv1.NetworkPolicyEgressRule {
	t.Helper()
	r := defaultRelease("flex-auth")
	r.Set = set
	helm := helmBin(t)
	if out, err := render.Lint(helm, r); err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
	np := one[*networkingv1.NetworkPolicy](t, renderObjects(t, helm, r))
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
		t.Fatal("denyEgress is on by default but the policy does not restrict egress")
	}
	return np.Spec.Egress
}

func tcpPorts(rule networkingv1.NetworkPolicyEgressRule) []int {
	var out []int
	for _, p := range rule.Ports {
		if p.Protocol != nil && *p.Protocol == corev1.ProtocolTCP && p.Port != nil && p.Port.IntValue() != 53 {
			out = append(out, p.Port.IntValue())
		}
	}
	return out
}

// TestFlexAuthEgressToAuthority (finding: denyEgress blocked the
// Authority): egress to the Authority is allowed exactly when caller
// authentication names one, on the port of its metadata URL, narrowed by
// networkPolicy.authorityTo; Redis likewise with the redis replay cache.
func TestFlexAuthEgressToAuthority(t *testing.T) {
	t.Run("no caller authentication: DNS only", func(t *testing.T) {
		rules := egressRules(t, []string{"networkPolicy.enabled=true"})
		if len(rules) != 1 || len(tcpPorts(rules[0])) != 0 {
			t.Fatalf("egress %+v, want the DNS rule only", rules)
		}
	})
	t.Run("certificate-only callers: DNS only", func(t *testing.T) {
		rules := egressRules(t, []string{"networkPolicy.enabled=true", "tls.enabled=true", "tls.existingSecret=flex-auth-tls",
			"tls.clientCaKey=ca.crt", "config.auth.clientCertificates={CN=registry-token}"})
		if len(rules) != 1 {
			t.Fatalf("egress %+v, want the DNS rule only", rules)
		}
	})
	t.Run("Authority on 443", func(t *testing.T) {
		rules := egressRules(t, flexAuthCallerAuth)
		if len(rules) != 2 || !slices.Equal(tcpPorts(rules[1]), []int{443}) || len(rules[1].To) != 0 {
			t.Fatalf("egress %+v, want DNS and TCP 443 to any destination", rules)
		}
	})
	t.Run("Authority on its own port, narrowed", func(t *testing.T) {
		set := append(slices.Clone(flexAuthCallerAuth),
			"config.auth.metadataUrl=https://authority.example.com:8443/.well-known/openid-configuration",
			"networkPolicy.authorityTo[0].ipBlock.cidr=10.20.0.0/16")
		rules := egressRules(t, set)
		if len(rules) != 2 || !slices.Equal(tcpPorts(rules[1]), []int{8443}) ||
			len(rules[1].To) != 1 || rules[1].To[0].IPBlock == nil || rules[1].To[0].IPBlock.CIDR != "10.20.0.0/16" {
			t.Fatalf("egress %+v, want DNS and TCP 8443 to 10.20.0.0/16", rules)
		}
	})
	t.Run("explicit ports", func(t *testing.T) {
		rules := egressRules(t, append(slices.Clone(flexAuthCallerAuth), "networkPolicy.authorityPorts={443,8443}"))
		if len(rules) != 2 || !slices.Equal(tcpPorts(rules[1]), []int{443, 8443}) {
			t.Fatalf("egress %+v, want TCP 443 and 8443", rules)
		}
	})
	t.Run("Authority and Redis", func(t *testing.T) {
		rules := egressRules(t, append(slices.Clone(flexAuthCallerAuth), "replicaCount=2", "dpop.nonceKeys.existingSecret=flex-auth-dpop-nonce",
			"config.auth.replayCache.backend=redis", "config.auth.replayCache.redisUrl=redis://redis.redis.svc:6380/0"))
		if len(rules) != 3 || !slices.Equal(tcpPorts(rules[2]), []int{6380}) {
			t.Fatalf("egress %+v, want DNS, the Authority and Redis on 6380", rules)
		}
	})
	t.Run("egress not restricted", func(t *testing.T) {
		r := defaultRelease("flex-auth")
		r.Set = append(slices.Clone(flexAuthCallerAuth), "networkPolicy.denyEgress=false")
		np := one[*networkingv1.NetworkPolicy](t, renderObjects(t, helmBin(t), r))
		if slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) || len(np.Spec.Egress) != 0 {
			t.Fatalf("denyEgress false still restricts egress: %+v", np.Spec)
		}
	})
}

// TestRegistryTokenFlexAuthClientCert: flexAuth.clientCertSecret mounts
// exactly the certificate and key of that Secret, read-only, where the
// rendered policy.certFile and policy.keyFile point.
func TestRegistryTokenFlexAuthClientCert(t *testing.T) {
	helm := helmBin(t)
	r := defaultRelease("registry-token")
	r.Set = []string{"flexAuth.url=" + httpsFlexAuthURL, "flexAuth.caSecret.name=flex-auth-tls",
		"flexAuth.clientCertSecret.name=registry-token-flex-auth-client"}
	if out, err := render.Lint(helm, r); err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
	objs := renderObjects(t, helm, r)
	dep := workload(t, objs)
	var cfg struct {
		Policy struct {
			CertFile string `json:"certFile"`
			KeyFile  string `json:"keyFile"`
		} `json:"policy"`
	}
	if err := yamljson.Unmarshal([]byte(registryTokenConfigData(t, objs, dep)), &cfg); err != nil {
		t.Fatal(err)
	}
	c := dep.Spec.Template.Spec.Containers[0]
	var mount *corev1.VolumeMount
	for i, m := range c.VolumeMounts {
		if m.Name == "flex-auth-client" {
			mount = &c.VolumeMounts[i]
		}
	}
	if mount == nil || !mount.ReadOnly {
		t.Fatalf("client certificate not mounted read-only: %+v", c.VolumeMounts)
	}
	if cfg.Policy.CertFile != filepath.Join(mount.MountPath, "tls.crt") || cfg.Policy.KeyFile != filepath.Join(mount.MountPath, "tls.key") {
		t.Fatalf("policy.certFile %q, keyFile %q, mount %s", cfg.Policy.CertFile, cfg.Policy.KeyFile, mount.MountPath)
	}
	for _, v := range dep.Spec.Template.Spec.Volumes {
		if v.Name != "flex-auth-client" {
			continue
		}
		var keys []string
		for _, it := range v.Secret.Items {
			keys = append(keys, it.Key)
		}
		if v.Secret.SecretName != "registry-token-flex-auth-client" || strings.Join(keys, ",") != "tls.crt,tls.key" {
			t.Fatalf("volume %+v, want only tls.crt and tls.key of registry-token-flex-auth-client", v.Secret)
		}
	}
}

// TestFlexAuthRedisURLFromSecret: several pods with caller authentication
// accept a Redis URL given by a Secret in extraEnv (no password in the
// ConfigMap); egress to Redis then uses the default port.
func TestFlexAuthRedisURLFromSecret(t *testing.T) {
	rules := egressRules(t, append(slices.Clone(flexAuthCallerAuth), "autoscaling.enabled=true",
		"dpop.nonceKeys.existingSecret=flex-auth-dpop-nonce", "config.auth.replayCache.backend=redis",
		"extraEnv[0].name=FLEX_AUTH_AUTH__REPLAYCACHE__REDISURL",
		"extraEnv[0].valueFrom.secretKeyRef.name=flex-auth-redis",
		"extraEnv[0].valueFrom.secretKeyRef.key=url"))
	if len(rules) != 3 || !slices.Equal(tcpPorts(rules[2]), []int{6379}) {
		t.Fatalf("egress %+v, want DNS, the Authority and Redis on 6379", rules)
	}
}
