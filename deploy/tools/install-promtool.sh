#!/usr/bin/env bash
# Builds the pinned promtool from the Go module proxy into the tools cache
# ($AUTHGATE_TOOLS, default ~/.cache/authgate-tools), once.
#
# `go install github.com/prometheus/prometheus/cmd/promtool@v0.315.0` is
# refused because prometheus's go.mod carries a replace directive, and
# v0.316.0 needs a hashicorp/nomad/api version the proxy answers 403 for.
# So promtool is built from a throw-away module (outside the repository)
# that requires prometheus v0.315.0 and repeats its replace directive.
set -euo pipefail
PROMETHEUS_VERSION=v0.315.0 # keep in step with PromtoolVersion in deploy/internal/render/helm.go
dir="${AUTHGATE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/authgate-tools}"
if [[ -x "$dir/promtool" && "$(cat "$dir/promtool.version" 2>/dev/null)" == "$PROMETHEUS_VERSION" ]]; then
  exit 0
fi
src="$dir/src/promtool"
mkdir -p "$src"
cat > "$src/go.mod" <<MOD
module authgate.local/tools/promtool

go 1.26

require github.com/prometheus/prometheus ${PROMETHEUS_VERSION}

// The same pin as prometheus ${PROMETHEUS_VERSION}'s own go.mod.
replace cloud.google.com/go => cloud.google.com/go v0.123.0
MOD
cat > "$src/tools.go" <<'GO'
//go:build tools

package tools

import _ "github.com/prometheus/prometheus/cmd/promtool"
GO
(
  cd "$src"
  export GOFLAGS=-mod=mod
  go get "github.com/prometheus/prometheus/cmd/promtool@${PROMETHEUS_VERSION}"
  GOBIN="$dir" go install github.com/prometheus/prometheus/cmd/promtool
)
echo "$PROMETHEUS_VERSION" > "$dir/promtool.version"
echo "installed promtool (prometheus $PROMETHEUS_VERSION) into $dir"
