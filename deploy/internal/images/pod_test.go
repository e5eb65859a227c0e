package images

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/stellaops/authgate/deploy/internal/render"
)

// podRun is a chart's Deployment turned into "podman run" flags the way
// the kubelet would run its first container: the same arguments (the
// listen address moved to a free 127.0.0.1 port, since the container
// shares the host's network), environment, user and groups, read-only
// root file system, dropped capabilities and no privilege escalation;
// ConfigMap and Secret volumes written to host directories and mounted
// read-only (owned by root, group fsGroup, as the kubelet does);
// disk emptyDirs and claims as host directories (kept in EmptyDirs for
// the test to read), memory emptyDirs as tmpfs.
type podRun struct {
	Flags, Args []string
	Addr        string            // 127.0.0.1:port the service listens on
	EmptyDirs   map[string]string // volume name -> host directory
}

func newPodRun(t *testing.T, objs []render.Object, addr string, secrets map[string]map[string][]byte) podRun {
	t.Helper()
	deps := render.Workloads(objs)
	if len(deps) != 1 {
		t.Fatalf("%d Deployments or StatefulSets rendered", len(deps))
	}
	pod := deps[0].Spec.Template.Spec
	c := pod.Containers[0]
	configMaps := map[string]map[string]string{}
	for _, cm := range render.Find[*corev1.ConfigMap](objs) {
		configMaps[cm.Name] = cm.Data
	}
	r := podRun{EmptyDirs: map[string]string{}, Addr: addr}
	r.Flags = append(r.Flags, securityFlags(t, pod.SecurityContext, c.SecurityContext)...)
	fsGroup := int64(-1)
	if pod.SecurityContext != nil && pod.SecurityContext.FSGroup != nil {
		fsGroup = *pod.SecurityContext.FSGroup
	}
	for _, m := range c.VolumeMounts {
		r.Flags = append(r.Flags, r.mount(t, pod, m, configMaps, secrets, fsGroup)...)
	}
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil {
			ref := e.ValueFrom.ResourceFieldRef
			if ref == nil || ref.Resource != "limits.memory" {
				t.Fatalf("env %s: only resourceFieldRef limits.memory is emulated", e.Name)
			}
			v = strconv.FormatInt(c.Resources.Limits.Memory().Value(), 10)
		}
		r.Flags = append(r.Flags, "--env", e.Name+"="+v)
	}
	for i, a := range c.Args {
		if i > 0 && c.Args[i-1] == "--addr" {
			a = r.Addr
		}
		r.Args = append(r.Args, a)
	}
	return r
}

func securityFlags(t *testing.T, pod *corev1.PodSecurityContext, c *corev1.SecurityContext) []string {
	if pod == nil || c == nil {
		t.Fatal("the chart sets no security context")
	}
	uid, gid := pod.RunAsUser, pod.RunAsGroup
	if c.RunAsUser != nil {
		uid = c.RunAsUser
	}
	if c.RunAsGroup != nil {
		gid = c.RunAsGroup
	}
	if uid == nil || gid == nil || *uid == 0 {
		t.Fatalf("runAsUser %v runAsGroup %v", uid, gid)
	}
	flags := []string{"--network", "host", "--user", fmt.Sprintf("%d:%d", *uid, *gid)}
	if pod.FSGroup != nil {
		flags = append(flags, "--group-add", strconv.FormatInt(*pod.FSGroup, 10))
	}
	if c.ReadOnlyRootFilesystem != nil && *c.ReadOnlyRootFilesystem {
		flags = append(flags, "--read-only", "--read-only-tmpfs=false")
	}
	if c.AllowPrivilegeEscalation != nil && !*c.AllowPrivilegeEscalation {
		flags = append(flags, "--security-opt", "no-new-privileges")
	}
	if c.Capabilities != nil {
		for _, d := range c.Capabilities.Drop {
			flags = append(flags, "--cap-drop", string(d))
		}
		for _, a := range c.Capabilities.Add {
			flags = append(flags, "--cap-add", string(a))
		}
	}
	return flags
}

func (r *podRun) mount(t *testing.T, pod corev1.PodSpec, m corev1.VolumeMount, configMaps map[string]map[string]string,
	secrets map[string]map[string][]byte, fsGroup int64) []string {
	var v *corev1.Volume
	for i := range pod.Volumes {
		if pod.Volumes[i].Name == m.Name {
			v = &pod.Volumes[i]
		}
	}
	if v == nil || m.SubPath != "" || m.SubPathExpr != "" {
		t.Fatalf("volume mount %+v: no such volume, or a sub-path", m)
	}
	ro := ""
	if m.ReadOnly {
		ro = ":ro"
	}
	switch {
	case v.ConfigMap != nil:
		data, ok := configMaps[v.ConfigMap.Name]
		if !ok {
			t.Fatalf("volume %s: ConfigMap %s is not rendered by the chart", v.Name, v.ConfigMap.Name)
		}
		files := map[string][]byte{}
		for k, s := range data {
			files[k] = []byte(s)
		}
		dir := writeVolume(t, files, v.ConfigMap.Items, 0o644, fsGroup)
		return []string{"--volume", dir + ":" + m.MountPath + ro}
	case v.Secret != nil:
		data, ok := secrets[v.Secret.SecretName]
		if !ok {
			t.Fatalf("volume %s: the test provides no Secret %s", v.Name, v.Secret.SecretName)
		}
		mode := os.FileMode(0o644)
		if v.Secret.DefaultMode != nil {
			mode = os.FileMode(*v.Secret.DefaultMode)
		}
		dir := writeVolume(t, data, v.Secret.Items, mode, fsGroup)
		return []string{"--volume", dir + ":" + m.MountPath + ro}
	case v.EmptyDir != nil && v.EmptyDir.Medium == corev1.StorageMediumMemory:
		opts := "rw,mode=1777"
		if l := v.EmptyDir.SizeLimit; l != nil {
			opts += ",size=" + strconv.FormatInt(l.Value(), 10)
		}
		return []string{"--tmpfs", m.MountPath + ":" + opts}
	case v.EmptyDir != nil, v.PersistentVolumeClaim != nil:
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o777); err != nil { // the kubelet's emptyDir mode
			t.Fatal(err)
		}
		r.EmptyDirs[v.Name] = dir
		return []string{"--volume", dir + ":" + m.MountPath + ro}
	}
	t.Fatalf("volume %s: kind not emulated", v.Name)
	return nil
}

// writeVolume writes a ConfigMap's or Secret's keys (or only items) into
// a fresh directory, with mode, owned by root and group fsGroup.
func writeVolume(t *testing.T, data map[string][]byte, items []corev1.KeyToPath, mode os.FileMode, fsGroup int64) string {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{}
	for k := range data {
		paths[k] = k
	}
	if len(items) > 0 {
		paths = map[string]string{}
		for _, it := range items {
			paths[it.Key] = it.Path
		}
	}
	for k, p := range paths {
		b, ok := data[k]
		if !ok {
			t.Fatalf("volume item %s: no such key", k)
		}
		file := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, b, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(file, mode); err != nil {
			t.Fatal(err)
		}
		if fsGroup >= 0 && os.Geteuid() == 0 {
			if err := os.Chown(file, 0, int(fsGroup)); err != nil {
				t.Fatal(err)
			}
		} else if err := os.Chmod(file, mode|0o004); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}
