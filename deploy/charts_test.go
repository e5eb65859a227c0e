package deploy_test

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/stellaops/authgate/deploy/internal/render"
	"github.com/stellaops/authgate/pkg/yamljson"
)

// scenario is one helm template run of a chart: the defaults, or a ci/ values file.
type scenario struct {
	name string
	rel  render.Release
}

func chartDir(name string) string { return filepath.Join("helm", name) }

// defaultRelease is how the charts are installed: release and namespace
// named after the service.
func defaultRelease(chart string) render.Release {
	return render.Release{Chart: chartDir(chart), Name: chart, Namespace: chart}
}

func scenarios(t *testing.T, chart string) []scenario {
	t.Helper()
	out := []scenario{{name: "defaults", rel: defaultRelease(chart)}}
	files, err := filepath.Glob(filepath.Join(chartDir(chart), "ci", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("%s: no ci/*.yaml scenarios", chart)
	}
	for _, f := range files {
		r := defaultRelease(chart)
		r.Values = []string{f}
		out = append(out, scenario{name: strings.TrimSuffix(filepath.Base(f), ".yaml"), rel: r})
	}
	return out
}

func helmBin(t *testing.T) string {
	t.Helper()
	h, err := render.Helm()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func renderObjects(t *testing.T, helm string, r render.Release) []render.Object {
	t.Helper()
	out, err := render.Template(helm, r)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := render.Decode(out)
	if err != nil {
		t.Fatalf("strict decode of %s: %v", r.Chart, err)
	}
	return objs
}

func one[T any](t *testing.T, objs []render.Object) T {
	t.Helper()
	found := render.Find[T](objs)
	if len(found) != 1 {
		var zero T
		t.Fatalf("want exactly one %T, got %d", zero, len(found))
	}
	return found[0]
}

// workload is the one workload a chart renders, a StatefulSet seen as a
// Deployment (render.Workloads).
func workload(t *testing.T, objs []render.Object) *appsv1.Deployment {
	t.Helper()
	found := render.Workloads(objs)
	if len(found) != 1 {
		t.Fatalf("want exactly one Deployment or StatefulSet, got %d", len(found))
	}
	return found[0]
}

func TestChartsLintRenderAndHarden(t *testing.T) {
	helm := helmBin(t)
	for _, chart := range []string{"registry-token", "flex-auth"} {
		for _, sc := range scenarios(t, chart) {
			t.Run(chart+"/"+sc.name, func(t *testing.T) {
				if out, err := render.Lint(helm, sc.rel); err != nil {
					t.Fatalf("helm lint: %v\n%s", err, out)
				}
				objs := renderObjects(t, helm, sc.rel)
				for _, o := range objs {
					if o.Namespace == "" {
						t.Errorf("%s %s has no namespace", o.Kind, o.Name)
					}
				}
				dep := workload(t, objs)
				checkHardened(t, dep)
				checkServiceAccount(t, objs, dep)
				checkService(t, chart, objs, dep)
				checkTestPod(t, objs)
			})
		}
	}
}

func checkHardened(t *testing.T, dep *appsv1.Deployment) {
	t.Helper()
	pod := dep.Spec.Template.Spec
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("pod mounts a service account token")
	}
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Error("pod runAsNonRoot is not true")
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("pod seccomp profile is not RuntimeDefault")
	}
	if dep.Spec.Template.Annotations["checksum/config"] == "" {
		t.Error("pod template has no checksum/config annotation")
	}
	if len(pod.Containers) == 0 {
		t.Fatal("no containers")
	}
	for _, c := range pod.Containers {
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Errorf("container %s: no securityContext", c.Name)
			continue
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("container %s: allowPrivilegeEscalation is not false", c.Name)
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("container %s: readOnlyRootFilesystem is not true", c.Name)
		case sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) != 0:
			t.Errorf("container %s: capabilities are not drop [ALL]", c.Name)
		case sc.Privileged != nil && *sc.Privileged:
			t.Errorf("container %s: privileged", c.Name)
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := c.Resources.Requests[r]; !ok {
				t.Errorf("container %s: no %s request", c.Name, r)
			}
		}
		if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
			t.Errorf("container %s: no memory limit", c.Name)
		}
	}
	main := pod.Containers[0]
	checkProbe(t, "liveness", main.LivenessProbe, "/healthz")
	checkProbe(t, "readiness", main.ReadinessProbe, "/readyz")
}

func checkProbe(t *testing.T, kind string, p *corev1.Probe, path string) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("%s probe: not an HTTP probe", kind)
		return
	}
	if p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "http" {
		t.Errorf("%s probe: %s on port %s, want %s on port http", kind, p.HTTPGet.Path, p.HTTPGet.Port.String(), path)
	}
}

func checkServiceAccount(t *testing.T, objs []render.Object, dep *appsv1.Deployment) {
	t.Helper()
	sa := one[*corev1.ServiceAccount](t, objs)
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Error("ServiceAccount automountServiceAccountToken is not false")
	}
	if dep.Spec.Template.Spec.ServiceAccountName != sa.Name {
		t.Errorf("pod uses service account %q, chart creates %q", dep.Spec.Template.Spec.ServiceAccountName, sa.Name)
	}
}

// servicePorts is the port each service listens on by default (server.addr
// in services/registry-token/README.md and services/flex-auth/README.md).
var servicePorts = map[string]int32{"registry-token": 8085, "flex-auth": 8080}

func checkService(t *testing.T, chart string, objs []render.Object, dep *appsv1.Deployment) {
	t.Helper()
	svc := one[*corev1.Service](t, objs)
	if svc.Name != chart {
		t.Errorf("Service name %q, want %q", svc.Name, chart)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != servicePorts[chart] || svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("Service ports %+v, want %d -> http", svc.Spec.Ports, servicePorts[chart])
	}
	c := dep.Spec.Template.Spec.Containers[0]
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != servicePorts[chart] {
		t.Errorf("container ports %+v, want http=%d", c.Ports, servicePorts[chart])
	}
	if want := fmt.Sprintf("0.0.0.0:%d", servicePorts[chart]); !hasArgPair(c.Args, "--addr", want) {
		t.Errorf("container args %v lack --addr %s", c.Args, want)
	}
	for k, v := range svc.Spec.Selector {
		if dep.Spec.Template.Labels[k] != v {
			t.Errorf("Service selector %s=%s does not select the pods", k, v)
		}
	}
	for _, pod := range render.Find[*corev1.Pod](objs) {
		if selects(svc.Spec.Selector, pod.Labels) {
			t.Errorf("Service %s selects test pod %s", svc.Name, pod.Name)
		}
	}
}

func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return len(selector) > 0
}

func checkTestPod(t *testing.T, objs []render.Object) {
	t.Helper()
	healthz := 0
	for _, pod := range render.Find[*corev1.Pod](objs) {
		if pod.Annotations["helm.sh/hook"] != "test" {
			t.Errorf("pod %s is not a helm test hook", pod.Name)
		}
		if pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken {
			t.Errorf("test pod %s mounts a service account token", pod.Name)
		}
		args := strings.Join(pod.Spec.Containers[0].Args, " ")
		if strings.Contains(args, "/healthz") && strings.Contains(args, "--fail") {
			healthz++
		}
	}
	if healthz != 1 {
		t.Errorf("want one test pod that curls --fail /healthz, got %d", healthz)
	}
}

func hasArgPair(args []string, flag, value string) bool {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag && args[i+1] == value {
			return true
		}
	}
	return false
}

func argValue(t *testing.T, args []string, flag string) string {
	t.Helper()
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			return args[i+1]
		}
	}
	t.Fatalf("args %v lack %s", args, flag)
	return ""
}

// registryTokenConfig is the part of the rendered registry-token.yaml the
// wiring checks read.
type registryTokenConfig struct {
	Server struct {
		PublicURL string `json:"publicUrl"`
	} `json:"server"`
	Authority struct {
		ReplayCache struct {
			Backend string `json:"backend"`
		} `json:"replayCache"`
	} `json:"authority"`
	Signing struct {
		Issuer  string `json:"issuer"`
		KeyFile string `json:"keyFile"`
		Keys    []struct {
			File         string `json:"file"`
			PasswordFile string `json:"passwordFile"`
		} `json:"keys"`
	} `json:"signing"`
	Registry struct {
		Realm    string   `json:"realm"`
		Services []string `json:"services"`
	} `json:"registry"`
	Plans       map[string]any `json:"plans"`
	DefaultPlan string         `json:"defaultPlan"`
	Policy      *struct {
		URL        string `json:"url"`
		Timeout    string `json:"timeout"`
		FailClosed *bool  `json:"failClosed"`
	} `json:"policy"`
}

func configOf(t *testing.T, objs []render.Object, dep *appsv1.Deployment) registryTokenConfig {
	t.Helper()
	path := argValue(t, dep.Spec.Template.Spec.Containers[0].Args, "--config")
	dir, file := filepath.Dir(path), filepath.Base(path)
	var cmName string
	for _, m := range dep.Spec.Template.Spec.Containers[0].VolumeMounts {
		if m.MountPath == dir {
			for _, v := range dep.Spec.Template.Spec.Volumes {
				if v.Name == m.Name && v.ConfigMap != nil {
					cmName = v.ConfigMap.Name
				}
			}
		}
	}
	for _, cm := range render.Find[*corev1.ConfigMap](objs) {
		if cm.Name == cmName {
			var cfg registryTokenConfig
			// Not strict: only the keys above are read here.
			if err := yamljson.Unmarshal([]byte(cm.Data[file]), &cfg); err != nil {
				t.Fatalf("config %s: %v", path, err)
			}
			return cfg
		}
	}
	t.Fatalf("no ConfigMap mounted at %s", dir)
	return registryTokenConfig{}
}

// TestFlexAuthURLResolvesToService renders both charts with their defaults
// and checks that registry-token's policy URL names flex-auth's Service:
// its cluster DNS name and port.
func TestFlexAuthURLResolvesToService(t *testing.T) {
	helm := helmBin(t)
	if def := renderObjects(t, helm, defaultRelease("registry-token")); configOf(t, def, workload(t, def)).Policy != nil {
		t.Fatal("the policy call is on by default; it must be opted into")
	}
	rt := defaultRelease("registry-token")
	rt.Values = []string{filepath.Join(chartDir("registry-token"), "ci", "flex-auth-policy-values.yaml")}
	rtObjs := renderObjects(t, helm, rt)
	faObjs := renderObjects(t, helm, defaultRelease("flex-auth"))
	cfg := configOf(t, rtObjs, workload(t, rtObjs))
	if cfg.Policy == nil {
		t.Fatal("registry-token config has no policy section with flexAuth.url set")
	}
	if cfg.Policy.FailClosed == nil || !*cfg.Policy.FailClosed {
		t.Error("policy.failClosed is not true by default")
	}
	u, err := url.Parse(cfg.Policy.URL)
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatalf("policy.url %q: %v", cfg.Policy.URL, err)
	}
	svc := one[*corev1.Service](t, faObjs)
	wantHost := fmt.Sprintf("%s.%s.svc.cluster.local", svc.Name, svc.Namespace)
	if host != wantHost || port != fmt.Sprint(svc.Spec.Ports[0].Port) || u.Scheme != "http" {
		t.Errorf("policy.url %s does not resolve to flex-auth Service %s:%d", cfg.Policy.URL, wantHost, svc.Spec.Ports[0].Port)
	}
	if cfg.Policy.URL != "http://flex-auth.flex-auth.svc.cluster.local:8080" {
		t.Errorf("policy.url %s, want the documented in-cluster URL", cfg.Policy.URL)
	}
}

func TestRegistryTokenWiring(t *testing.T) {
	helm := helmBin(t)
	for _, sc := range scenarios(t, "registry-token") {
		t.Run(sc.name, func(t *testing.T) {
			objs := renderObjects(t, helm, sc.rel)
			dep := workload(t, objs)
			cfg := configOf(t, objs, dep)
			if cfg.Registry.Realm == "" || !strings.HasSuffix(cfg.Registry.Realm, "/token") {
				t.Errorf("realm %q does not end in /token", cfg.Registry.Realm)
			}
			if _, ok := cfg.Plans[cfg.DefaultPlan]; !ok {
				t.Errorf("defaultPlan %q is not a plan", cfg.DefaultPlan)
			}
			// The signing keys are files from Secret volumes, never inline:
			// signing.keyFile, or each file of signing.keys (one Secret each).
			files := []string{cfg.Signing.KeyFile}
			if len(cfg.Signing.Keys) > 0 {
				files = nil
				for _, k := range cfg.Signing.Keys {
					files = append(files, k.File)
				}
			}
			secrets := map[string]bool{}
			for _, f := range files {
				secret := ""
				for _, m := range dep.Spec.Template.Spec.Containers[0].VolumeMounts {
					for _, v := range dep.Spec.Template.Spec.Volumes {
						if m.MountPath == filepath.Dir(f) && v.Name == m.Name && v.Secret != nil && v.Secret.SecretName != "" {
							secret = v.Secret.SecretName
						}
					}
				}
				if secret == "" {
					t.Errorf("signing key %q is not on a Secret volume", f)
				} else if secrets[secret] {
					t.Errorf("two signing keys come from Secret %s", secret)
				}
				secrets[secret] = true
			}
			for _, cm := range render.Find[*corev1.ConfigMap](objs) {
				for k, v := range cm.Data {
					if strings.Contains(v, "PRIVATE KEY") {
						t.Errorf("ConfigMap %s key %s holds a private key", cm.Name, k)
					}
				}
			}
			replicas := int32(1)
			if dep.Spec.Replicas != nil {
				replicas = *dep.Spec.Replicas
			}
			if replicas > 1 && cfg.Authority.ReplayCache.Backend == "memory" {
				t.Errorf("%d replicas with replay cache %q", replicas, cfg.Authority.ReplayCache.Backend)
			}
		})
	}
}

// TestFlexAuthPolicyMount checks that the snapshot and the policy package
// come from a ConfigMap mounted as a directory (a subPath mount would never
// see an update), that --watch is on, and that the decision log is on a volume.
func TestFlexAuthPolicyMount(t *testing.T) {
	helm := helmBin(t)
	for _, sc := range scenarios(t, "flex-auth") {
		t.Run(sc.name, func(t *testing.T) {
			objs := renderObjects(t, helm, sc.rel)
			dep := workload(t, objs)
			c := dep.Spec.Template.Spec.Containers[0]
			if !contains(c.Args, "--watch") {
				t.Error("flex-auth runs without --watch")
			}
			// flex-auth raises its GC target; the heap's soft limit must
			// follow this container's memory limit.
			var memLimit *corev1.EnvVar
			for i, e := range c.Env {
				if e.Name == "GOMEMLIMIT" {
					memLimit = &c.Env[i]
				}
			}
			if memLimit == nil || memLimit.ValueFrom == nil || memLimit.ValueFrom.ResourceFieldRef == nil ||
				memLimit.ValueFrom.ResourceFieldRef.Resource != "limits.memory" ||
				memLimit.ValueFrom.ResourceFieldRef.ContainerName != c.Name {
				t.Errorf("GOMEMLIMIT is not this container's memory limit: %+v", memLimit)
			}
			vols := map[string]corev1.Volume{}
			for _, v := range dep.Spec.Template.Spec.Volumes {
				vols[v.Name] = v
			}
			mountOf := func(path string) (corev1.VolumeMount, corev1.Volume) {
				for _, m := range c.VolumeMounts {
					if m.MountPath == filepath.Dir(path) {
						return m, vols[m.Name]
					}
				}
				t.Fatalf("nothing mounted for %s", path)
				return corev1.VolumeMount{}, corev1.Volume{}
			}
			for _, flag := range []string{"--registry", "--policy"} {
				m, v := mountOf(argValue(t, c.Args, flag))
				if v.ConfigMap == nil || m.SubPath != "" {
					t.Errorf("%s is not a directory mount of a ConfigMap", flag)
				}
			}
			m, v := mountOf(argValue(t, c.Args, "--log"))
			if m.ReadOnly || (v.EmptyDir == nil && v.PersistentVolumeClaim == nil) {
				t.Errorf("decision log is not on a writable emptyDir or PVC volume")
			}
			// A claim from the StatefulSet's templates is the pod's own;
			// any other is shared and needs a directory per pod.
			perPod := map[string]bool{}
			for _, ss := range render.Find[*appsv1.StatefulSet](objs) {
				for _, c := range ss.Spec.VolumeClaimTemplates {
					perPod[c.Name] = true
				}
			}
			if v.PersistentVolumeClaim != nil && !perPod[v.Name] && m.SubPathExpr != "$(POD_NAME)" {
				t.Errorf("pods share one decision log directory on the claim")
			}
			if sc.name == "defaults" {
				cm := one[*corev1.ConfigMap](t, objs)
				for key, file := range map[string]string{
					"production_registry_snapshot.json": "../configs/ops-warden/production_registry_snapshot.json",
					"policy_package.md":                 "../configs/ops-warden/policy_package.md",
				} {
					if cm.Data[key] != readFile(t, file) {
						t.Errorf("ConfigMap %s key %s differs from %s", cm.Name, key, file)
					}
				}
				// Snapshot and package changes must reload, not roll the pods.
				if strings.Contains(dep.Spec.Template.Annotations["checksum/config"], cm.Annotations["authgate.stellaops.io/snapshot-sha256"]) {
					t.Error("checksum/config covers the snapshot")
				}
			}
		})
	}
}

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

// TestFlexAuthDecisionLogVolumePerPod: by default each flex-auth pod keeps
// its decision log on a claim of its own (a StatefulSet's claim template,
// retained when pods go), large enough for the rotation and free-space
// defaults; an emptyDir only when chosen, a shared claim only when named.
func TestFlexAuthDecisionLogVolumePerPod(t *testing.T) {
	helm := helmBin(t)
	var values struct {
		DecisionLog struct {
			MaxSize, MaxFiles, MinFreeBytes int64
			Persistence                     struct{ Size, SizeLimit string }
		} `json:"decisionLog"`
	}
	if err := yamljson.Unmarshal([]byte(readFile(t, "helm/flex-auth/values.yaml")), &values); err != nil {
		t.Fatal(err)
	}
	d := values.DecisionLog
	need := d.MaxSize*(d.MaxFiles+1) + d.MinFreeBytes + 16<<20 // 16 MiB: the file's disk reserve
	logVolume := func(dep *appsv1.Deployment) corev1.Volume {
		t.Helper()
		for _, v := range dep.Spec.Template.Spec.Volumes {
			if v.Name == "decision-log" {
				return v
			}
		}
		t.Fatal("no decision-log volume")
		return corev1.Volume{}
	}

	objs := renderObjects(t, helm, defaultRelease("flex-auth"))
	ss := one[*appsv1.StatefulSet](t, objs)
	if len(ss.Spec.VolumeClaimTemplates) != 1 || ss.Spec.VolumeClaimTemplates[0].Name != "decision-log" {
		t.Fatalf("default: claim templates %+v, want one decision-log", ss.Spec.VolumeClaimTemplates)
	}
	size := ss.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]
	if size.Value() < need {
		t.Errorf("default claim %s is smaller than maxSize x (maxFiles + 1) + minFreeBytes + 16 MiB = %d bytes", size.String(), need)
	}
	if r := ss.Spec.PersistentVolumeClaimRetentionPolicy; r == nil || r.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType || r.WhenScaled != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		t.Errorf("default: claims are not retained when the set is deleted or scaled: %+v", r)
	}
	if v := logVolume(workload(t, objs)); v.PersistentVolumeClaim == nil {
		t.Errorf("default: the decision log is not on the pod's claim: %+v", v)
	}
	if len(render.Find[*corev1.PersistentVolumeClaim](objs)) != 0 {
		t.Error("default: a claim shared by the pods is rendered")
	}

	r := defaultRelease("flex-auth")
	r.Set = []string{"decisionLog.persistence.type=emptyDir"}
	objs = renderObjects(t, helm, r)
	if n := len(one[*appsv1.StatefulSet](t, objs).Spec.VolumeClaimTemplates); n != 0 {
		t.Errorf("emptyDir: %d claim templates", n)
	}
	v := logVolume(workload(t, objs))
	if v.EmptyDir == nil || v.EmptyDir.SizeLimit == nil || v.EmptyDir.SizeLimit.Value() < need {
		t.Errorf("emptyDir: decision-log volume %+v, want an emptyDir of at least %d bytes", v, need)
	}

	r.Set = []string{"decisionLog.persistence.existingClaim=audit-logs", "replicaCount=2"}
	objs = renderObjects(t, helm, r)
	dep := workload(t, objs)
	if v := logVolume(dep); v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "audit-logs" {
		t.Errorf("existingClaim: decision-log volume %+v, want claim audit-logs", v)
	}
	for _, m := range dep.Spec.Template.Spec.Containers[0].VolumeMounts {
		if m.Name == "decision-log" && m.SubPathExpr != "$(POD_NAME)" {
			t.Errorf("existingClaim: pods share one directory of the claim: %+v", m)
		}
	}
}

// TestShutdownDelay: both charts delay SIGTERM with a preStop sleep of
// shutdownDelaySeconds (the pod keeps serving while it leaves the
// Service's endpoints), within the grace period with the 15 s drain; 0
// leaves the hook out.
func TestShutdownDelay(t *testing.T) {
	helm := helmBin(t)
	for _, chart := range []string{"registry-token", "flex-auth"} {
		t.Run(chart, func(t *testing.T) {
			pod := workload(t, renderObjects(t, helm, defaultRelease(chart))).Spec.Template.Spec
			c := pod.Containers[0]
			if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Sleep.Seconds != 5 {
				t.Fatalf("default: preStop %+v, want a sleep of 5 s", c.Lifecycle)
			}
			if grace := pod.TerminationGracePeriodSeconds; grace == nil || *grace < c.Lifecycle.PreStop.Sleep.Seconds+15 {
				t.Errorf("terminationGracePeriodSeconds %v does not cover the delay and the 15 s drain", grace)
			}
			r := defaultRelease(chart)
			r.Set = []string{"shutdownDelaySeconds=12"}
			if s := workload(t, renderObjects(t, helm, r)).Spec.Template.Spec.Containers[0].Lifecycle.PreStop.Sleep; s.Seconds != 12 {
				t.Errorf("shutdownDelaySeconds=12: sleep %d", s.Seconds)
			}
			r.Set = []string{"shutdownDelaySeconds=0"}
			if l := workload(t, renderObjects(t, helm, r)).Spec.Template.Spec.Containers[0].Lifecycle; l != nil {
				t.Errorf("shutdownDelaySeconds=0: lifecycle %+v, want none", l)
			}
		})
	}
}
