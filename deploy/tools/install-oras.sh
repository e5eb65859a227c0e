#!/usr/bin/env bash
# Installs the pinned oras from the Go module proxy into the tools cache
# ($AUTHGATE_TOOLS, default ~/.cache/authgate-tools), once. The registry
# client tests (services/registry-token/internal/clients) run it.
set -euo pipefail
ORAS_VERSION=v1.3.6
dir="${AUTHGATE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/authgate-tools}"
if [[ -x "$dir/oras" && "$(cat "$dir/oras.version" 2>/dev/null)" == "$ORAS_VERSION" ]]; then
  exit 0
fi
mkdir -p "$dir"
GOBIN="$dir" GOFLAGS=-mod=mod go install "oras.land/oras/cmd/oras@${ORAS_VERSION}"
echo "$ORAS_VERSION" > "$dir/oras.version"
echo "installed oras $ORAS_VERSION into $dir"
