#!/usr/bin/env bash
# Installs the pinned helm from the Go module proxy into the tools cache
# ($AUTHGATE_TOOLS, default ~/.cache/authgate-tools), once.
set -euo pipefail
HELM_VERSION=v3.21.4 # keep in step with HelmVersion in deploy/internal/render/helm.go
dir="${AUTHGATE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/authgate-tools}"
if [[ -x "$dir/helm" && "$(cat "$dir/helm.version" 2>/dev/null)" == "$HELM_VERSION" ]]; then
  exit 0
fi
mkdir -p "$dir"
GOBIN="$dir" GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
echo "$HELM_VERSION" > "$dir/helm.version"
echo "installed helm $HELM_VERSION into $dir"
