#!/usr/bin/env bash
# Installs the pinned regctl from the Go module proxy into the tools cache
# ($AUTHGATE_TOOLS, default ~/.cache/authgate-tools), once. The registry
# client tests (services/registry-token/internal/clients) run it.
set -euo pipefail
REGCTL_VERSION=v0.11.7
dir="${AUTHGATE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/authgate-tools}"
if [[ -x "$dir/regctl" && "$(cat "$dir/regctl.version" 2>/dev/null)" == "$REGCTL_VERSION" ]]; then
  exit 0
fi
mkdir -p "$dir"
GOBIN="$dir" GOFLAGS=-mod=mod go install "github.com/regclient/regclient/cmd/regctl@${REGCTL_VERSION}"
echo "$REGCTL_VERSION" > "$dir/regctl.version"
echo "installed regctl $REGCTL_VERSION into $dir"
