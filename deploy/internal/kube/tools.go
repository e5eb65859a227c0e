// Package kube runs a real Kubernetes API server (kube-apiserver and etcd,
// built by deploy/tools/install-kube.sh into the tools cache) on
// 127.0.0.1 for the deploy checks, and talks to it: server-side apply
// with strict field validation, and helm with a kubeconfig. There is no
// kubelet and no controller: objects are stored and validated, never run.
package kube

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/stellaops/authgate/deploy/internal/render"
)

// The pinned versions; deploy/tools/install-kube.sh installs them.
const (
	KubeVersion               = "v1.36.3"
	EtcdVersion               = "v3.6.17"
	PrometheusOperatorVersion = "v0.90.1" // the ServiceMonitor and PrometheusRule CRDs
)

const install = "deploy/tools/install-kube.sh   (task tools:kube)"

// Tools are the installed binaries and CRD files.
type Tools struct {
	APIServer, Etcd string
	CRDs            []string
}

// FindTools locates the pinned tools in render.ToolsDir(), with a message
// naming the installer when one is missing or of another version.
func FindTools() (Tools, error) {
	dir := render.ToolsDir()
	t := Tools{APIServer: filepath.Join(dir, "kube-apiserver"), Etcd: filepath.Join(dir, "etcd"),
		CRDs: []string{filepath.Join(dir, "crds", "servicemonitors.yaml"), filepath.Join(dir, "crds", "prometheusrules.yaml")}}
	for _, c := range []struct{ file, marker, version string }{
		{t.APIServer, "kube-apiserver.version", KubeVersion},
		{t.Etcd, "etcd.version", EtcdVersion},
		{t.CRDs[0], "crds.version", PrometheusOperatorVersion},
		{t.CRDs[1], "crds.version", PrometheusOperatorVersion},
	} {
		if _, err := os.Stat(c.file); err != nil {
			return t, fmt.Errorf("%s not found (%v); install it from the repository root with:\n  %s", c.file, err, install)
		}
		if b, err := os.ReadFile(filepath.Join(dir, c.marker)); err != nil || strings.TrimSpace(string(b)) != c.version {
			return t, fmt.Errorf("%s is not the pinned %s (marker %s: %q); reinstall it with:\n  %s", c.file, c.version, c.marker, strings.TrimSpace(string(b)), install)
		}
	}
	return t, nil
}
