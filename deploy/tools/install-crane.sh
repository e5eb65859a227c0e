#!/usr/bin/env bash
# Installs the pinned crane from the Go module proxy into the tools cache
# ($AUTHGATE_TOOLS, default ~/.cache/authgate-tools), once. The registry
# client tests (services/registry-token/internal/clients) run it.
set -euo pipefail
CRANE_VERSION=v0.22.1
dir="${AUTHGATE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/authgate-tools}"
if [[ -x "$dir/crane" && "$(cat "$dir/crane.version" 2>/dev/null)" == "$CRANE_VERSION" ]]; then
  exit 0
fi
mkdir -p "$dir"
GOBIN="$dir" GOFLAGS=-mod=mod go install "github.com/google/go-containerregistry/cmd/crane@${CRANE_VERSION}"
echo "$CRANE_VERSION" > "$dir/crane.version"
echo "installed crane $CRANE_VERSION into $dir"
