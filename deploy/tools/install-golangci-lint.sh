#!/usr/bin/env bash
# Installs the pinned golangci-lint from the Go module proxy into the tools
# cache ($AUTHGATE_TOOLS, default ~/.cache/authgate-tools), once.
set -euo pipefail
GOLANGCI_LINT_VERSION=v2.15.0
dir="${AUTHGATE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/authgate-tools}"
if [[ -x "$dir/golangci-lint" && "$(cat "$dir/golangci-lint.version" 2>/dev/null)" == "$GOLANGCI_LINT_VERSION" ]]; then
  exit 0
fi
mkdir -p "$dir"
GOBIN="$dir" GOFLAGS=-mod=mod go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@${GOLANGCI_LINT_VERSION}"
echo "$GOLANGCI_LINT_VERSION" > "$dir/golangci-lint.version"
echo "installed golangci-lint $GOLANGCI_LINT_VERSION into $dir"
