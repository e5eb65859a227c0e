#!/usr/bin/env bash
# Builds the pinned kube-apiserver and etcd from the Go module proxy into
# the tools cache ($AUTHGATE_TOOLS, default ~/.cache/authgate-tools), once,
# and copies the ServiceMonitor and PrometheusRule CRDs of the pinned
# prometheus-operator module next to them. The deploy tests start the pair
# on 127.0.0.1 and install every chart scenario and the plain manifests
# into it (go tool task k8s:check).
#
# `go install k8s.io/kubernetes/cmd/kube-apiserver@...` is refused because
# kubernetes's go.mod replaces its staging modules (k8s.io/api,
# k8s.io/apiserver, ...) with directories. So kube-apiserver is built from
# a throw-away module (outside the repository) that requires
# k8s.io/kubernetes and pins each staging module to the matching
# published v0.x version. etcd installs directly.
set -euo pipefail
# Keep in step with the versions in deploy/internal/kube/tools.go.
KUBERNETES_VERSION=v1.36.3
STAGING_VERSION=v0.36.3
ETCD_VERSION=v3.6.17
PROMETHEUS_OPERATOR_VERSION=v0.90.1
dir="${AUTHGATE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/authgate-tools}"
mkdir -p "$dir"

# build NAME PACKAGE: builds PACKAGE from the throw-away module whose
# go.mod is on stdin into $dir/NAME.
build() {
  local name=$1 pkg=$2 src="$dir/src/$1"
  rm -rf "$src"
  mkdir -p "$src"
  cat > "$src/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" > "$src/tools.go"
  (
    cd "$src"
    export GOFLAGS=-mod=mod CGO_ENABLED=0
    go mod tidy
    GOBIN="$src/bin" go install -trimpath "$pkg"
  )
  mv "$src/bin/"* "$dir/$name" # one binary ("server" for .../server/v3)
}

# etcd's server module also replaces its siblings with directories, but
# it requires them at its own version, so a module requiring it is enough.
if ! [[ -x "$dir/etcd" && "$(cat "$dir/etcd.version" 2>/dev/null)" == "$ETCD_VERSION" ]]; then
  build etcd go.etcd.io/etcd/server/v3 <<MOD
module authgate.local/tools/etcd

go 1.26

require go.etcd.io/etcd/server/v3 ${ETCD_VERSION}
MOD
  echo "$ETCD_VERSION" > "$dir/etcd.version"
  echo "installed etcd $ETCD_VERSION into $dir"
fi

if ! [[ -f "$dir/crds/servicemonitors.yaml" && "$(cat "$dir/crds.version" 2>/dev/null)" == "$PROMETHEUS_OPERATOR_VERSION" ]]; then
  mod=$(cd "$dir" && GOFLAGS=-mod=mod go mod download -json "github.com/prometheus-operator/prometheus-operator@${PROMETHEUS_OPERATOR_VERSION}" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  mkdir -p "$dir/crds"
  for crd in servicemonitors prometheusrules; do
    install -m 0644 "$mod/example/prometheus-operator-crd/monitoring.coreos.com_${crd}.yaml" "$dir/crds/${crd}.yaml"
  done
  echo "$PROMETHEUS_OPERATOR_VERSION" > "$dir/crds.version"
  echo "copied the prometheus-operator $PROMETHEUS_OPERATOR_VERSION CRDs into $dir/crds"
fi

if [[ -x "$dir/kube-apiserver" && "$(cat "$dir/kube-apiserver.version" 2>/dev/null)" == "$KUBERNETES_VERSION" ]]; then
  exit 0
fi
staging=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
  cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api
  cri-client cri-streaming csi-translation-lib dynamic-resource-allocation endpointslice externaljwt
  kms kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
  mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller streaming)
{
  echo "module authgate.local/tools/kube-apiserver"
  echo
  echo "go 1.26"
  echo
  echo "require k8s.io/kubernetes ${KUBERNETES_VERSION}"
  echo
  echo "// kubernetes's own go.mod points these at ./staging; use the published modules."
  echo "replace ("
  for m in "${staging[@]}"; do echo "	k8s.io/$m => k8s.io/$m ${STAGING_VERSION}"; done
  echo ")"
} | build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
echo "$KUBERNETES_VERSION" > "$dir/kube-apiserver.version"
echo "installed kube-apiserver $KUBERNETES_VERSION into $dir"
