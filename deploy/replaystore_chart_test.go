package deploy_test

import (
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/stellaops/authgate/deploy/internal/render"
	"github.com/stellaops/authgate/pkg/testkit/authoritytest"
	"github.com/stellaops/authgate/pkg/testkit/certtest"
	"github.com/stellaops/authgate/pkg/testkit/proctest"
	"github.com/stellaops/authgate/pkg/yamljson"
)

// replayStoreFile matches a path where a chart mounts a replay store
// Secret (_replaystore.tpl): the Redis credentials, the Redis CA, the DPoP
// nonce keys.
var replayStoreFile = regexp.MustCompile(`/etc/(?:registry-token|flex-auth)/(redis-credentials|redis-ca|dpop-nonce)/([-._a-zA-Z0-9]+)`)

// withReplayStoreFiles replaces every replay store Secret path in data by
// a file in dir holding what the Secret would: a password or user name, a
// CA certificate, a nonce key.
func withReplayStoreFiles(t *testing.T, dir, data string) string {
	t.Helper()
	return replayStoreFile.ReplaceAllStringFunc(data, func(p string) string {
		m := replayStoreFile.FindStringSubmatch(p)
		local := filepath.Join(dir, m[1]+"-"+m[2])
		content := []byte("s3cret-" + m[2] + "\n")
		switch m[1] {
		case "redis-ca":
			content = certtest.SelfSigned(t, "redis", 1).CertPEM
		case "dpop-nonce":
			k := make([]byte, 32)
			if _, err := rand.Read(k); err != nil {
				t.Fatal(err)
			}
			content = []byte(base64.StdEncoding.EncodeToString(k) + "\n")
		}
		if err := os.WriteFile(local, content, 0o600); err != nil {
			t.Fatal(err)
		}
		return local
	})
}

// secretVolume is a Secret volume of a pod: its Secret, keys and mount.
type secretVolume struct {
	secret string
	keys   []string
	mount  corev1.VolumeMount
	mode   int32
}

// secretVolumes maps the volume name to the Secret volume mounted in the
// first container.
func secretVolumes(spec corev1.PodSpec) map[string]secretVolume {
	out := map[string]secretVolume{}
	for _, v := range spec.Volumes {
		if v.Secret == nil {
			continue
		}
		sv := secretVolume{secret: v.Secret.SecretName}
		if v.Secret.DefaultMode != nil {
			sv.mode = *v.Secret.DefaultMode
		}
		for _, it := range v.Secret.Items {
			if it.Key != it.Path {
				continue // the charts mount each key under its own name
			}
			sv.keys = append(sv.keys, it.Key)
		}
		for _, m := range spec.Containers[0].VolumeMounts {
			if m.Name == v.Name {
				sv.mount = m
			}
		}
		out[v.Name] = sv
	}
	return out
}

// replayStoreSettings are the file settings of the replay store and the
// nonce keys as the service reads them: from the rendered configuration
// (registry-token) or the environment (flex-auth).
type replayStoreSettings struct {
	PasswordFile, UsernameFile, SentinelPasswordFile, CAFile, NonceKeyFile string
}

func renderedReplayStore(t *testing.T, chart string, objs []render.Object) replayStoreSettings {
	t.Helper()
	dep := workload(t, objs)
	if chart == "flex-auth" {
		env := map[string]string{}
		for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
			env[e.Name] = e.Value
		}
		return replayStoreSettings{
			PasswordFile: env["FLEX_AUTH_AUTH__REPLAYCACHE__PASSWORDFILE"], UsernameFile: env["FLEX_AUTH_AUTH__REPLAYCACHE__USERNAMEFILE"],
			SentinelPasswordFile: env["FLEX_AUTH_AUTH__REPLAYCACHE__SENTINEL__PASSWORDFILE"], CAFile: env["FLEX_AUTH_AUTH__REPLAYCACHE__TLS__CAFILE"],
			NonceKeyFile: env["FLEX_AUTH_AUTH__DPOPNONCEKEYFILE"],
		}
	}
	var cfg struct {
		Authority struct {
			DPoP struct {
				NonceKeyFile string `json:"nonceKeyFile"`
			} `json:"dpop"`
			ReplayCache struct {
				PasswordFile string `json:"passwordFile"`
				UsernameFile string `json:"usernameFile"`
				Sentinel     struct {
					PasswordFile string `json:"passwordFile"`
				} `json:"sentinel"`
				TLS struct {
					CAFile string `json:"caFile"`
				} `json:"tls"`
			} `json:"replayCache"`
		} `json:"authority"`
	}
	if err := yamljson.Unmarshal([]byte(registryTokenConfigData(t, objs, dep)), &cfg); err != nil {
		t.Fatal(err)
	}
	rc := cfg.Authority.ReplayCache
	return replayStoreSettings{PasswordFile: rc.PasswordFile, UsernameFile: rc.UsernameFile, SentinelPasswordFile: rc.Sentinel.PasswordFile,
		CAFile: rc.TLS.CAFile, NonceKeyFile: cfg.Authority.DPoP.NonceKeyFile}
}

// replayStoreSet is, per chart, the values that select a Redis backend
// and configure its Secrets with the names both charts share.
func replayStoreSet(chart, backend string) []string {
	prefix, nonce := "replayCache.", "authority.dpop.nonceKeys.existingSecret=dpop-nonce"
	set := []string{}
	if chart == "flex-auth" {
		prefix, nonce = "config.auth.replayCache.", "dpop.nonceKeys.existingSecret=dpop-nonce"
		set = append(set, flexAuthCallerAuth...)
	}
	set = append(set, "replicaCount=2", prefix+"backend="+backend, nonce,
		"replayCache.credentials.existingSecret=redis-credentials", "replayCache.credentials.usernameKey=username",
		"replayCache.credentials.sentinelPasswordKey=sentinel-password", "replayCache.tls.caSecret.name=redis-ca")
	switch backend {
	case "redis":
		url := prefix + "redisUrl"
		if chart == "registry-token" {
			url = "replayCache.redis.url"
		}
		set = append(set, url+"=rediss://redis.redis.svc:6380/0")
	case "redis-sentinel":
		set = append(set, prefix+"sentinel.masterName=replay", prefix+"sentinel.addrs={s-0.redis:26379,s-1.redis:26379,s-2.redis:26380}")
	case "redis-cluster":
		set = append(set, prefix+"cluster.addrs={c-0.redis:7000,c-1.redis:7001}")
	}
	return set
}

// TestReplayStoreSecretsMounted: in both charts, each Redis backend mounts
// exactly the keys of the credentials Secret it uses (the sentinels'
// password only with redis-sentinel), the CA and the nonce keys, read-only
// and readable by the pod's group only, and the service's settings name
// exactly those files; the memory backend mounts no Redis Secret even
// when the values name one. Nothing of it is in the environment as a
// value (flex-auth's variables hold paths).
func TestReplayStoreSecretsMounted(t *testing.T) {
	helm := helmBin(t)
	for _, chart := range []string{"registry-token", "flex-auth"} {
		dir := "/etc/" + chart
		for _, backend := range []string{"memory", "redis", "redis-sentinel", "redis-cluster"} {
			t.Run(chart+"/"+backend, func(t *testing.T) {
				r := defaultRelease(chart)
				r.Set = replayStoreSet(chart, backend)
				if backend == "memory" {
					r.Set = append(r.Set, "replicaCount=1")
				}
				if out, err := render.Lint(helm, r); err != nil {
					t.Fatalf("helm lint: %v\n%s", err, out)
				}
				objs := renderObjects(t, helm, r)
				dep := workload(t, objs)
				vols := secretVolumes(dep.Spec.Template.Spec)
				got := renderedReplayStore(t, chart, objs)

				nonce := vols["dpop-nonce-keys"]
				if nonce.secret != "dpop-nonce" || !slices.Equal(nonce.keys, []string{"nonce-keys"}) || !nonce.mount.ReadOnly ||
					nonce.mode != 0o440 || got.NonceKeyFile != filepath.Join(nonce.mount.MountPath, "nonce-keys") ||
					nonce.mount.MountPath != dir+"/dpop-nonce" {
					t.Errorf("nonce keys: volume %+v, setting %q", nonce, got.NonceKeyFile)
				}
				cred, ca := vols["redis-credentials"], vols["redis-ca"]
				if backend == "memory" {
					if cred.secret != "" || ca.secret != "" || got.PasswordFile != "" || got.UsernameFile != "" || got.SentinelPasswordFile != "" || got.CAFile != "" {
						t.Errorf("memory backend mounts Redis Secrets: %+v %+v %+v", cred, ca, got)
					}
					return
				}
				wantKeys := []string{"password", "username"}
				if backend == "redis-sentinel" {
					wantKeys = append(wantKeys, "sentinel-password")
				}
				if cred.secret != "redis-credentials" || !slices.Equal(cred.keys, wantKeys) || !cred.mount.ReadOnly || cred.mode != 0o440 ||
					cred.mount.MountPath != dir+"/redis-credentials" {
					t.Errorf("credentials volume %+v, want keys %v read-only at %s/redis-credentials", cred, wantKeys, dir)
				}
				if ca.secret != "redis-ca" || !slices.Equal(ca.keys, []string{"ca.crt"}) || !ca.mount.ReadOnly || ca.mode != 0o440 {
					t.Errorf("CA volume %+v", ca)
				}
				at := func(v secretVolume, key string) string { return filepath.Join(v.mount.MountPath, key) }
				want := replayStoreSettings{PasswordFile: at(cred, "password"), UsernameFile: at(cred, "username"),
					CAFile: at(ca, "ca.crt"), NonceKeyFile: at(nonce, "nonce-keys")}
				if backend == "redis-sentinel" {
					want.SentinelPasswordFile = at(cred, "sentinel-password")
				}
				if got != want {
					t.Errorf("settings %+v, want %+v", got, want)
				}
				for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
					if e.Value != "" && strings.Contains(strings.ToLower(e.Name), "replaycache") && !strings.HasPrefix(e.Value, dir+"/") {
						t.Errorf("%s=%q: a replay store variable that is not a mounted file", e.Name, e.Value)
					}
				}
			})
		}
	}
}

// TestReplayStoreEgress: the NetworkPolicy of both charts lets the pods
// reach the replay store on the ports of the addresses given and 6379 for
// the data nodes that sentinels and clusters name (the redis backend: its
// URL's port), or on the ports the values list instead.
func TestReplayStoreEgress(t *testing.T) {
	helm := helmBin(t)
	cases := []struct {
		backend string
		extra   map[string][]string // per chart
		want    []int
	}{
		{"redis", nil, []int{6380}},
		{"redis-sentinel", nil, []int{26379, 26380, 6379}},
		{"redis-cluster", nil, []int{7000, 7001, 6379}},
		{"redis-cluster", map[string][]string{"registry-token": {"replayCache.egressPorts={7000,7001,7002}"},
			"flex-auth": {"networkPolicy.redisPorts={7000,7001,7002}"}}, []int{7000, 7001, 7002}},
	}
	for _, chart := range []string{"registry-token", "flex-auth"} {
		for _, c := range cases {
			t.Run(chart+"/"+c.backend+strings.Join(c.extra[chart], ","), func(t *testing.T) {
				r := defaultRelease(chart)
				r.Set = append(replayStoreSet(chart, c.backend), c.extra[chart]...)
				peer := "replayCache.egressTo[0].namespaceSelector.matchLabels.name=redis"
				if chart == "flex-auth" {
					peer = "networkPolicy.redisTo[0].namespaceSelector.matchLabels.name=redis"
				}
				r.Set = append(r.Set, "networkPolicy.enabled=true", "networkPolicy.egress.enabled=true", peer)
				if chart == "flex-auth" {
					r.Set = slices.DeleteFunc(r.Set, func(s string) bool { return strings.HasPrefix(s, "networkPolicy.egress.") })
				}
				if out, err := render.Lint(helm, r); err != nil {
					t.Fatalf("helm lint: %v\n%s", err, out)
				}
				np := one[*networkingv1.NetworkPolicy](t, renderObjects(t, helm, r))
				var rule *networkingv1.NetworkPolicyEgressRule
				for i, e := range np.Spec.Egress {
					for _, to := range e.To {
						if to.NamespaceSelector != nil && to.NamespaceSelector.MatchLabels["name"] == "redis" {
							rule = &np.Spec.Egress[i]
						}
					}
				}
				if rule == nil {
					t.Fatalf("no egress rule to the Redis peers: %+v", np.Spec.Egress)
				}
				if got := tcpPorts(*rule); !slices.Equal(got, c.want) {
					t.Errorf("Redis egress ports %v, want %v", got, c.want)
				}
			})
		}
	}
}

// TestFlexAuthReplayStoreEnvLoads starts the real flex-auth with the
// configuration and environment its chart renders for each Redis
// backend (the mounted Secrets standing in as files): it must accept them
// (an unknown key or a wrong variable name is refused at start) and log
// the backend it was given.
func TestFlexAuthReplayStoreEnvLoads(t *testing.T) {
	helm := helmBin(t)
	bin := proctest.Build(t, "./services/flex-auth")
	auth := authoritytest.New(t)
	for _, backend := range []string{"redis", "redis-sentinel", "redis-cluster"} {
		t.Run(backend, func(t *testing.T) {
			r := defaultRelease("flex-auth")
			// A real Authority on loopback: flex-auth reads its discovery
			// at start. Redis is not there: flex-auth starts and refuses
			// token callers until it answers.
			r.Set = append(replayStoreSet("flex-auth", backend), "config.auth.issuer="+auth.Issuer,
				"config.auth.metadataUrl="+auth.Issuer+"/.well-known/openid-configuration", "config.auth.requireHttpsMetadata=false")
			objs := renderObjects(t, helm, r)
			dep := workload(t, objs)
			c := dep.Spec.Template.Spec.Containers[0]
			dir := t.TempDir()
			cfgPath := argValue(t, c.Args, "--config")
			var data string
			for _, cm := range render.Find[*corev1.ConfigMap](objs) {
				if d, ok := cm.Data[filepath.Base(cfgPath)]; ok {
					data = d
				}
			}
			if data == "" {
				t.Fatalf("no ConfigMap holds %s", cfgPath)
			}
			cfgFile := filepath.Join(dir, "flex-auth.yaml")
			if err := os.WriteFile(cfgFile, []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
			environ := cleanEnv("FLEX_AUTH_")
			var files int
			for _, e := range c.Env {
				switch {
				case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
					// The URL Secret of the redis backend.
					environ = append(environ, e.Name+"=rediss://127.0.0.1:1/0")
				case strings.HasPrefix(e.Name, "FLEX_AUTH_AUTH__"):
					files++
					environ = append(environ, e.Name+"="+withReplayStoreFiles(t, dir, e.Value))
				}
			}
			if want := map[string]int{"redis": 4, "redis-sentinel": 5, "redis-cluster": 4}[backend]; files != want {
				t.Fatalf("%d FLEX_AUTH_AUTH__ file variables rendered, want %d", files, want)
			}
			fa := startFlexAuth(t, bin, environ, "--config", cfgFile, "--log", filepath.Join(dir, "decisions.jsonl"))
			if fa.Addr == "" {
				t.Fatalf("flex-auth refused or did not start with the chart's %s settings:\n%s", backend, fa.Stop())
			}
			// The start-up line names the backend (read after start: the
			// line is written before the listener).
			if log := fa.Stop(); !strings.Contains(log, `"replay_cache":"`+backend+`"`) {
				t.Errorf("flex-auth's log does not name the %s replay cache:\n%s", backend, log)
			}
		})
	}
}
