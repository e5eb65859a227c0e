#!/usr/bin/env bash
# Builds the pinned Kubernetes binaries (kube-apiserver, kubelet,
# kube-controller-manager, kube-scheduler, kube-proxy, kubectl), etcd and
# CoreDNS from the Go module proxy into the tools cache ($AUTHGATE_TOOLS,
# default ~/.cache/authgate-tools), once per version, and copies the
# ServiceMonitor and PrometheusRule CRDs of the pinned prometheus-operator
# module next to them. The deploy tests start kube-apiserver and etcd on
# 127.0.0.1 and install every chart scenario and the plain manifests into
# it (go tool task k8s:check); the single-node cluster of
# go tool task k8s:cluster and k8s:e2e runs all of them.
#
# `go install k8s.io/kubernetes/cmd/kube-apiserver@...` is refused because
# kubernetes's go.mod replaces its staging modules (k8s.io/api,
# k8s.io/apiserver, ...) with directories. So kube-apiserver is built from
# a throw-away module (outside the repository) that requires
# k8s.io/kubernetes and pins each staging module to the matching
# published v0.x version. Built that way they report v0.0.0-master, so
# the version is set at link time (the kubelet reports it as the node's
# version and helm checks charts' kubeVersion against the API server's).
# etcd and CoreDNS install directly.
set -euo pipefail
# Keep in step with the versions in deploy/internal/kube/tools.go.
KUBERNETES_VERSION=v1.36.3
STAGING_VERSION=v0.36.3
ETCD_VERSION=v3.6.17
PROMETHEUS_OPERATOR_VERSION=v0.90.1
COREDNS_VERSION=v1.14.7
dir="${AUTHGATE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/authgate-tools}"
mkdir -p "$dir"
# One build at a time: concurrent runs (task's parallel deps, two
# checkouts sharing the cache) wait for the first and then find it done.
exec 9>"$dir/.install-kube.lock"
flock 9

# build NAME LDFLAGS PACKAGE...: builds the PACKAGEs (in one go install, so
# they share compiled packages) from the throw-away module whose go.mod is
# on stdin into $dir/bin of module NAME, and moves them into $dir.
build() {
  local name=$1 ldflags=$2 src="$dir/src/$1"
  shift 2
  rm -rf "$src"
  mkdir -p "$src"
  cat > "$src/go.mod"
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    printf '\t_ "%s"\n' "$@"
    printf ')\n'
  } > "$src/tools.go"
  (
    cd "$src"
    export GOFLAGS=-mod=mod CGO_ENABLED=0
    go mod tidy
    GOBIN="$src/bin" go install -trimpath -ldflags="$ldflags" "$@"
  )
  mv "$src/bin/"* "$dir/"
}

# etcd's server module also replaces its siblings with directories, but
# it requires them at its own version, so a module requiring it is enough.
if ! [[ -x "$dir/etcd" && "$(cat "$dir/etcd.version" 2>/dev/null)" == "$ETCD_VERSION" ]]; then
  build etcd "" go.etcd.io/etcd/server/v3 <<MOD
module authgate.local/tools/etcd

go 1.26

require go.etcd.io/etcd/server/v3 ${ETCD_VERSION}
MOD
  mv "$dir/server" "$dir/etcd" # the package is .../server/v3
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

# CoreDNS's go.mod has no replacements: it installs as it is.
if ! [[ -x "$dir/coredns" && "$(cat "$dir/coredns.version" 2>/dev/null)" == "$COREDNS_VERSION" ]]; then
  build coredns "-s -w" github.com/coredns/coredns <<MOD
module authgate.local/tools/coredns

go 1.26

require github.com/coredns/coredns ${COREDNS_VERSION}
MOD
  echo "$COREDNS_VERSION" > "$dir/coredns.version"
  echo "installed coredns $COREDNS_VERSION into $dir"
fi

kube=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubectl)
# The marker names the recipe too: binaries of an earlier recipe (without
# the version stamp) are rebuilt.
marker="$KUBERNETES_VERSION stamped"
if [[ "$(cat "$dir/kube.version" 2>/dev/null)" == "$marker" ]]; then
  have=1
  for b in "${kube[@]}"; do [[ -x "$dir/$b" ]] || have=0; done
  ((have)) && exit 0
fi
staging=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
  cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api
  cri-client cri-streaming csi-translation-lib dynamic-resource-allocation endpointslice externaljwt
  kms kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
  mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller streaming)
minor=${KUBERNETES_VERSION#v*.}
minor=${minor%%.*}
version=k8s.io/component-base/version
ldflags="-s -w -X $version.gitVersion=$KUBERNETES_VERSION -X $version.gitMajor=1 -X $version.gitMinor=$minor"
ldflags="$ldflags -X $version.gitTreeState=clean"
{
  echo "module authgate.local/tools/kube"
  echo
  echo "go 1.26"
  echo
  echo "require k8s.io/kubernetes ${KUBERNETES_VERSION}"
  echo
  echo "// kubernetes's own go.mod points these at ./staging; use the published modules."
  echo "replace ("
  for m in "${staging[@]}"; do echo "	k8s.io/$m => k8s.io/$m ${STAGING_VERSION}"; done
  echo ")"
} | build kube "$ldflags" $(printf 'k8s.io/kubernetes/cmd/%s ' "${kube[@]}")
echo "$KUBERNETES_VERSION" > "$dir/kube-apiserver.version"
echo "$marker" > "$dir/kube.version"
echo "installed ${kube[*]} $KUBERNETES_VERSION into $dir"
